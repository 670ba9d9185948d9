"""The request body, bounded while it streams: at most ``max_bytes`` (chunked or not), no pause longer
than ``idle_seconds``, all of it within ``total_seconds`` plus a second for every ``min_rate`` bytes
that came (a trickle is cut off; a large upload over a slow link keeps the time its size earns).

A pure ASGI middleware, outermost in the app, so that nothing reads more than the cap: a declared
``Content-Length`` over the cap is refused before a byte of the body is read; otherwise the bytes are
counted as the app receives them and the read that passes the cap, or that waits too long, ends the
request with 413 or 408 in the error shape of :mod:`serving.errors` (whatever the app was doing with
the body: its own answer, if it tries one, is dropped). Every answer sent before the body was read to
its end carries ``Connection: close``, so the server stops reading the rest rather than draining it,
however slowly it comes.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from serving.errors import error_body

Scope = dict[str, Any]
Message = dict[str, Any]


@dataclass(frozen=True)
class BodyLimits:
    max_bytes: int
    idle_seconds: float
    total_seconds: float
    min_rate: int = 0  # bytes a second that earn a second more; 0: the total is fixed

    def deadline(self, started: float, received: int) -> float:
        return started + self.total_seconds + (received / self.min_rate if self.min_rate else 0.0)

    @classmethod
    def from_settings(cls, settings) -> BodyLimits:
        return cls(
            max_bytes=settings.max_request_bytes,
            idle_seconds=settings.body_idle_timeout_seconds,
            total_seconds=settings.body_timeout_seconds,
            min_rate=settings.body_min_rate_bytes,
        )


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str
    fix: str

    def response(self, request_id: str | None) -> tuple[Message, Message]:
        body = json.dumps(error_body(self.code, self.message, fix=self.fix)).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        if request_id:
            headers.append((b"x-request-id", request_id.encode("latin-1", "replace")))
        return (
            {"type": "http.response.start", "status": self.status, "headers": headers},
            {"type": "http.response.body", "body": body},
        )


def too_large(limits: BodyLimits) -> Refusal:
    mb = limits.max_bytes / 1_000_000
    return Refusal(
        413,
        "request_too_large",
        f"the request body is over the limit of {limits.max_bytes} bytes ({mb:.1f} MB)",
        f"Send at most {mb:.1f} MB per request: fewer or smaller photos (as the phone took them, not "
        "larger); add further photos to the case in later requests (POST /v1/cases/{id}/photos).",
    )


def too_slow(limits: BodyLimits, *, idle: bool) -> Refusal:
    slower = f" and came slower than {limits.min_rate} bytes a second" if limits.min_rate else ""
    why = (
        f"no data came for {limits.idle_seconds:g} s"
        if idle
        else f"it was not complete after {limits.total_seconds:g} s{slower}"
    )
    return Refusal(
        408,
        "request_timeout",
        f"the request body did not arrive in time: {why}",
        "Send the whole request at once, without pauses; on a slow connection send fewer or smaller "
        "photos per request.",
    )


class BodyRefused(Exception):
    """Raised inside the app by ``receive``: the body broke a limit (the middleware answers)."""


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.strip().isdigit() else None
    return None


def _has_body(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"", b"0")):
            return True
    return False


def _request_id(scope: Scope) -> str | None:
    state = scope.get("state") or {}
    rid = state.get("request_id") if isinstance(state, dict) else None
    if rid:
        return str(rid)
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            return value.decode("latin-1")[:64] or None
    return None


class _Guard:
    """One request: counts and times the body the app receives, and watches what the app sends."""

    def __init__(self, scope: Scope, receive, send, limits: BodyLimits):
        self.scope, self._receive, self._send, self.limits = scope, receive, send, limits
        self.began = time.monotonic()
        self.received = 0
        self.body_done = not _has_body(scope)
        self.refusal: Refusal | None = None
        self.started = False  # the response's start went out

    def refuse(self, refusal: Refusal) -> BodyRefused:
        self.refusal = refusal
        return BodyRefused(refusal.message)

    async def receive(self) -> Message:
        if self.refusal is not None:
            raise BodyRefused(self.refusal.message)
        if self.body_done:
            return await self._receive()  # nothing left to time: the disconnect, when it comes
        left = self.limits.deadline(self.began, self.received) - time.monotonic()
        if left <= 0:
            raise self.refuse(too_slow(self.limits, idle=False))
        wait = min(self.limits.idle_seconds, left)
        try:
            message = await asyncio.wait_for(self._receive(), wait)
        except TimeoutError:
            raise self.refuse(too_slow(self.limits, idle=wait < left)) from None
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limits.max_bytes:
                raise self.refuse(too_large(self.limits))
            self.body_done = not message.get("more_body", False)
        return message

    async def send(self, message: Message) -> None:
        if self.refusal is not None:
            return  # the app's answer to a refused body: ours goes instead
        if message["type"] == "http.response.start":
            self.started = True
            if not self.body_done:  # answered before the end of the body: do not read the rest
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
        await self._send(message)

    async def answer(self, refusal: Refusal) -> None:
        self.started = True
        for message in refusal.response(_request_id(self.scope)):
            await self._send(message)


class RequestBodyLimits:
    """ASGI middleware: see the module docs."""

    def __init__(self, app, *, limits: BodyLimits):
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        guard = _Guard(scope, receive, send, self.limits)
        declared = _declared_length(scope)
        if declared is not None and declared > self.limits.max_bytes:
            await guard.answer(too_large(self.limits))  # before reading anything
            return
        try:
            await self.app(scope, guard.receive, guard.send)
        except BodyRefused:
            pass
        except Exception:
            if guard.refusal is None:
                raise
        if guard.refusal is not None:
            if guard.started:  # too late for an answer: end the request (the server closes)
                raise BodyRefused(guard.refusal.message)
            await guard.answer(guard.refusal)

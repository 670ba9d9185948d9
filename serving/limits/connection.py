"""The request line and headers within a timeout: a uvicorn HTTP protocol.

Uvicorn times out an idle kept-alive connection, but not a client that opens a connection and sends
nothing, or sends its headers a byte at a time (slowloris): either holds a connection for as long as
it likes. :class:`TimedHttpProtocol` (uvicorn's own protocol, httptools or h11, whichever uvicorn
picks) gives every request ``header_timeout_seconds`` from the moment the connection is open, or the
previous answer on it was sent, until its headers are complete (the moment the app is called): then
the connection is closed, after a 408 in the error shape of :mod:`serving.errors` if part of a
request had come. The body's own limits are :mod:`serving.limits.body`'s, inside the app.

``dermatriage serve`` uses it (``uvicorn.run(..., http=HTTP_PROTOCOL)``, also with ``--workers``);
elsewhere: ``uvicorn serving.asgi:app --http serving.limits.connection:TimedHttpProtocol``. The
timeout comes from the settings (``DERMATRIAGE_HEADER_TIMEOUT_SECONDS``), read once per process.
"""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from serving.errors import error_body
from serving.settings import Settings

HTTP_PROTOCOL = "serving.limits.connection:TimedHttpProtocol"


@functools.cache
def _configured_header_timeout() -> float:
    return Settings().header_timeout_seconds


def timeout_response(seconds: float) -> bytes:
    """A complete HTTP/1.1 408 answer, ``Connection: close``."""
    body = json.dumps(
        error_body(
            "request_timeout",
            f"the request line and headers did not arrive within {seconds:g} s",
            fix="Send the request line and all headers at once, as soon as the connection is open.",
        )
    ).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class HeaderTimeout:
    """Mixin for a uvicorn HTTP protocol class: see the module docs."""

    #: seconds; None: ``Settings().header_timeout_seconds``
    header_timeout_seconds: float | None = None

    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    app: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._request_begun = False  # a byte of the awaited request has come
        self._timeout = self.header_timeout_seconds or _configured_header_timeout()
        app = self.app

        async def headers_complete(scope, receive, send):
            self._stop_header_timer()
            await app(scope, receive, send)

        self.app = headers_complete

    def _start_header_timer(self) -> None:
        self._stop_header_timer()
        self._request_begun = False
        self._header_timer = self.loop.call_later(self._timeout, self._headers_too_slow)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self._request_begun:
            self.transport.write(timeout_response(self._timeout))
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[misc]
        self._start_header_timer()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is not None and data:
            self._request_begun = True
        super().data_received(data)  # type: ignore[misc]

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if not self.transport.is_closing():
            self._start_header_timer()  # the next request on this connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)  # type: ignore[misc]


class TimedHttpProtocol(HeaderTimeout, AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """Uvicorn's HTTP/1.1 protocol with the header timeout."""

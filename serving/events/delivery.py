"""Webhook delivery, step by step: claim due events, POST each one signed, record what came of it.

A claim is a short transaction that takes due events (``FOR UPDATE SKIP LOCKED`` on PostgreSQL;
SQLite's ``BEGIN IMMEDIATE`` serializes claims), gives each a claim token and pushes its
``next_attempt_at`` out by a lease, then commits. So no two workers send the same event at the same
time, no database lock is held while a webhook is called, and an event whose worker died is sent
again once its lease lapses (at least once). Only the head of each case is due: the oldest pending
event of a case blocks that case's later events, not other cases'.
"""

from __future__ import annotations

import json
import logging
import random
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from serving.encryption import Undecryptable, keyring_of
from serving.events.models import DeliveryAttempt, DeliveryState, OutboxEvent
from serving.events.secrets import open_secret
from serving.events.signing import SIGNATURE_HEADER, signature_header
from serving.orgs.models import Organization

log = logging.getLogger("dermatriage.events")

USER_AGENT = "dermatriage-webhooks/1"

#: ``http_post(url, body, headers, timeout_s) -> HTTP status``; raises OSError when no answer came
HttpPost = Callable[[str, bytes, Mapping[str, str], float], int]


@dataclass(frozen=True)
class RetryPolicy:
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 3600.0
    jitter: float = 0.2  # each delay is shortened by up to this share, at random
    retry_window_s: float = 3 * 24 * 3600.0  # give up on an event this long after it was written
    timeout_s: float = 10.0
    batch: int = 8  # events claimed (and sent concurrently) at a time

    @property
    def lease_s(self) -> float:
        """How long a claimed event is held by its worker: its POST ends well within this."""
        return 3 * self.timeout_s + 30.0

    @classmethod
    def from_settings(cls, settings) -> RetryPolicy:
        return cls(
            backoff_base_s=settings.webhook_backoff_base_seconds,
            backoff_cap_s=settings.webhook_backoff_cap_seconds,
            retry_window_s=settings.webhook_retry_hours * 3600.0,
            timeout_s=settings.webhook_timeout_seconds,
            batch=settings.webhook_concurrency,
        )


def backoff_seconds(attempt: int, policy: RetryPolicy, *, rng: random.Random | None = None) -> float:
    """The wait after failed attempt number ``attempt`` (1, 2, ...): base doubling up to the cap,
    less a random share (jitter) so that retries after an outage do not arrive together."""
    delay = min(policy.backoff_cap_s, policy.backoff_base_s * 2 ** min(attempt - 1, 60))
    return delay * (1 - policy.jitter * (rng or random).random())


@dataclass(frozen=True)
class Claimed:
    """An event taken by one worker, with everything needed to send it outside a transaction."""

    sequence: int
    event_id: str
    event_type: str
    attempt: int
    token: str
    url: str
    secret: str
    body: bytes
    created_at: datetime  # when the event was written (its delivery lag is measured from here)

    @classmethod
    def of(cls, event: OutboxEvent, *, url: str, secret: str) -> Claimed:
        """The event as its worker claimed it (``claim_token`` and ``attempts`` set)."""
        identity = {"sequence": event.sequence, "event_id": event.id, "event_type": event.event_type}
        claim = {"attempt": event.attempts, "token": event.claim_token}
        body = event_body(event)
        return cls(**identity, **claim, url=url, secret=secret, body=body, created_at=event.created_at)


@dataclass(frozen=True)
class Outcome:
    started_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def event_document(event: OutboxEvent) -> dict:
    """An event as receivers and the feed see it."""
    return {
        "id": event.id,
        "type": event.event_type,
        "sequence": event.sequence,
        "created_at": event.created_at.isoformat(),
        "case_id": event.case_id,
        "data": event.payload,
    }


def event_body(event: OutboxEvent) -> bytes:
    return json.dumps(event_document(event), separators=(",", ":"), ensure_ascii=False).encode()


def claim_due(session: Session, *, now: datetime, policy: RetryPolicy) -> list[Claimed]:
    """Take up to ``policy.batch`` due events (the oldest pending event of each case only)."""
    earlier = aliased(OutboxEvent)
    blocked = exists().where(
        earlier.case_id == OutboxEvent.case_id,
        earlier.sequence < OutboxEvent.sequence,
        earlier.delivery_state == DeliveryState.pending.value,
    )
    rows = session.execute(
        select(OutboxEvent, Organization.webhook_url, Organization.webhook_secret)
        .join(Organization, Organization.id == OutboxEvent.organization_id)
        .where(
            OutboxEvent.delivery_state == DeliveryState.pending.value,
            OutboxEvent.next_attempt_at <= now,
            Organization.webhook_url.is_not(None),
            Organization.webhook_secret.is_not(None),
            ~blocked,
        )
        .order_by(OutboxEvent.sequence)
        .limit(policy.batch)
        .with_for_update(of=OutboxEvent, skip_locked=True)
    ).all()
    claimed = []
    for event, url, stored_secret in rows:
        event.claim_token = uuid.uuid4().hex
        event.attempts += 1
        event.last_attempt_at = now
        event.next_attempt_at = now + timedelta(seconds=policy.lease_s)
        try:
            secret = open_secret(keyring_of(session), event.organization_id, stored_secret)
        except Undecryptable as exc:  # a failed attempt (retried later), not a failed pass for everyone
            log.error("cannot sign event %s: the webhook secret does not open: %s", event.id, exc)
            error = f"cannot sign: {exc}"[:500]
            failed = Outcome(started_at=now, duration_ms=0, status_code=None, error=error)
            record_outcome(session, Claimed.of(event, url=url, secret=""), failed, now=now, policy=policy)
            continue
        claimed.append(Claimed.of(event, url=url, secret=secret))
    return claimed


def request_headers(claimed: Claimed, *, timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Dermatriage-Event-Id": claimed.event_id,
        "X-Dermatriage-Event-Type": claimed.event_type,
        "X-Dermatriage-Timestamp": str(timestamp),
        "X-Dermatriage-Attempt": str(claimed.attempt),
        SIGNATURE_HEADER: signature_header(claimed.secret, claimed.body, timestamp),
    }


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a 3xx is an answer, not a delivery: the webhook URL should be the final one


_OPENER = urllib.request.build_opener(_NoRedirects)


def post_webhook(url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> int:
    """POST with the standard library; returns the HTTP status (any), raises OSError on no answer."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            response.read(64 * 1024)
            return response.status
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code


def send(claimed: Claimed, *, http_post: HttpPost, policy: RetryPolicy, now: datetime) -> Outcome:
    started = time.monotonic()
    status, error = None, None
    try:
        status = http_post(
            claimed.url, claimed.body, request_headers(claimed, timestamp=int(time.time())), policy.timeout_s
        )
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except Exception as exc:  # noqa: BLE001 - any failure to get an answer is a failed attempt
        reason = getattr(exc, "reason", None) or exc
        error = f"{type(exc).__name__}: {reason}"[:500]
    duration = int((time.monotonic() - started) * 1000)
    return Outcome(started_at=now, duration_ms=duration, status_code=status, error=error)


def record_outcome(
    session: Session, claimed: Claimed, outcome: Outcome, *, now: datetime, policy: RetryPolicy
) -> bool:
    """Write the attempt and the event's new state. False if the claim was lost meanwhile (its
    lease lapsed and another worker took the event): then only the attempt is written."""
    session.add(DeliveryAttempt(event_sequence=claimed.sequence, attempt=claimed.attempt, **asdict(outcome)))
    event = session.scalar(
        select(OutboxEvent)
        .where(OutboxEvent.sequence == claimed.sequence, OutboxEvent.claim_token == claimed.token)
        .with_for_update()
    )
    if event is None:
        return False
    event.claim_token = None
    event.last_status_code = outcome.status_code
    event.last_error = outcome.error
    if outcome.ok:
        event.delivery_state = DeliveryState.delivered.value
        event.delivered_at = now
        event.next_attempt_at = None
    elif (now - event.created_at).total_seconds() >= policy.retry_window_s:
        event.delivery_state = DeliveryState.failed.value
        event.next_attempt_at = None
    else:
        event.next_attempt_at = now + timedelta(seconds=backoff_seconds(event.attempts, policy))
    return True

"""The background work of the service: a pass (``deliver_due``) writes the follow-up reminders that
came due and queues the cases whose retake deadline passed, then delivers every due event to its
webhook; a loop for ``dermatriage worker``, and the service's background task. Any number of them may
run at once, in one process or many."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from serving.cases.retake_deadline import queue_overdue_retakes
from serving.consults.follow_ups import emit_due_follow_ups
from serving.db import transaction, utcnow
from serving.events.delivery import HttpPost, RetryPolicy, claim_due, post_webhook, record_outcome, send
from serving.telemetry import observe_webhook_attempt

log = logging.getLogger("dermatriage.events")


def deliver_due(
    sessions: sessionmaker[Session],
    *,
    now: datetime | None = None,
    http_post: HttpPost = post_webhook,
    policy: RetryPolicy | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> int:
    """Send every event that is due, round after round (a case's next event becomes due once the
    one before it is delivered), until none is left. Returns how many were delivered.

    ``now`` fixes the clock that decides what is due and when failures are retried (tests pass
    one); by default each step reads the real clock.
    """
    policy = policy or RetryPolicy()
    clock = (lambda: now) if now is not None else utcnow
    delivered = 0
    _remind_due_follow_ups(sessions, clock())
    _queue_overdue_retakes(sessions, clock())
    with ThreadPoolExecutor(max_workers=policy.batch, thread_name_prefix="webhook") as pool:
        while not (should_stop and should_stop()):
            with transaction(sessions) as session:
                claimed = claim_due(session, now=clock(), policy=policy)
            if not claimed:
                break
            outcomes = pool.map(lambda c: send(c, http_post=http_post, policy=policy, now=clock()), claimed)
            for item, outcome in zip(claimed, outcomes, strict=True):
                with transaction(sessions) as session:
                    record_outcome(session, item, outcome, now=clock(), policy=policy)
                lag = (clock() - item.created_at).total_seconds()
                observe_webhook_attempt(
                    status_code=outcome.status_code, seconds=outcome.duration_ms / 1000, lag_s=lag
                )
                if outcome.ok:
                    delivered += 1
                else:
                    log.warning(
                        "webhook delivery of event %s (attempt %d) failed: %s",
                        item.event_id,
                        item.attempt,
                        outcome.error,
                    )
    return delivered


def _remind_due_follow_ups(sessions: sessionmaker[Session], now: datetime) -> None:
    """Each pass first turns follow-ups that came due without photos into ``follow_up.due`` events
    (once each), so the reminders go out with the same worker; ``dermatriage follow-ups remind`` does
    the same from cron."""
    with transaction(sessions) as session:
        count = emit_due_follow_ups(session, now)
    if count:
        log.info("%d follow-up reminder(s) written", count)


def _queue_overdue_retakes(sessions: sessionmaker[Session], now: datetime) -> None:
    """Each pass also puts the cases that waited for a retake past their organization's deadline in the
    queue (``case.retake_deadline_passed``, delivered in the same pass); ``dermatriage retakes
    queue-overdue`` does the same from cron."""
    with transaction(sessions) as session:
        count = queue_overdue_retakes(session, now)
    if count:
        log.info("%d case(s) queued after their retake deadline", count)


def run_worker(
    sessions: sessionmaker[Session],
    *,
    policy: RetryPolicy,
    poll_seconds: float,
    stop: threading.Event,
    http_post: HttpPost = post_webhook,
) -> None:
    """Deliver until ``stop`` is set: a pass, then a pause of ``poll_seconds``. A failing pass (the
    database is away) is logged and tried again after the pause."""
    while not stop.is_set():
        try:
            count = deliver_due(sessions, policy=policy, http_post=http_post, should_stop=stop.is_set)
            if count:
                log.info("%d event(s) delivered", count)
        except Exception:  # noqa: BLE001 - keep delivering once the cause goes away
            log.exception("webhook delivery pass failed")
        stop.wait(poll_seconds)


class BackgroundDelivery:
    """The service's delivery loop: an asyncio task that runs each pass in a thread."""

    def __init__(self, sessions: sessionmaker[Session], *, policy: RetryPolicy, poll_seconds: float):
        self._sessions = sessions
        self._policy = policy
        self._poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="webhook-delivery")

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.to_thread(
                    deliver_due, self._sessions, policy=self._policy, should_stop=self._stop.is_set
                )
            except Exception:  # noqa: BLE001 - keep delivering once the cause goes away
                log.exception("webhook delivery pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)

    async def stop(self) -> None:
        """Finish the pass under way (each POST has a timeout) and end the task."""
        self._stop.set()
        self._wake.set()
        if self._task is not None:
            await self._task

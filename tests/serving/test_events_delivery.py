"""Webhook delivery: signed, retried with backoff across an outage and a restart, in order per case,
never sent twice at the same time by two workers. The clock is injected; nothing sleeps for long."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import timedelta

import pytest
from factories import unreadable_jpeg
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from webhook_receiver import webhook_receiver_fixture  # noqa: F401 - the webhook_receiver fixture

from serving.app import create_app
from serving.db import make_engine, make_session_factory, transaction, utcnow
from serving.events import types
from serving.events.delivery import RetryPolicy, backoff_seconds, claim_due
from serving.events.models import DeliveryAttempt, DeliveryState, OutboxEvent
from serving.events.outbox import emit
from serving.events.signing import verify_signature
from serving.orgs.models import Organization
from serving.worker import deliver_due

POLICY = RetryPolicy(backoff_base_s=2.0, backoff_cap_s=60.0, jitter=0.2, timeout_s=5.0)


@pytest.fixture(autouse=True)
def _only_this_tests_webhooks(sessions):
    """The database is shared by the tests of a run: earlier tests' webhooks must not get events here."""
    with transaction(sessions) as session:
        session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.delivery_state == DeliveryState.pending.value)
            .values(delivery_state=DeliveryState.skipped.value, next_attempt_at=None)
        )
        session.execute(update(Organization).values(webhook_url=None, webhook_secret=None))


def emit_events(sessions, org_id, case_ids) -> list[OutboxEvent]:
    """One event per entry of ``case_ids``, each in its own transaction, in that order."""
    events = []
    for n, case_id in enumerate(case_ids):
        with transaction(sessions) as session:
            events.append(
                emit(
                    session,
                    organization_id=org_id,
                    event_type=types.MESSAGE_SENT,
                    case_id=case_id,
                    payload={"n": n, "case_id": case_id},
                )
            )
    return events


def state(sessions, event) -> OutboxEvent:
    with transaction(sessions) as session:
        return session.scalar(select(OutboxEvent).where(OutboxEvent.sequence == event.sequence))


def attempts(sessions, event) -> list[DeliveryAttempt]:
    with transaction(sessions) as session:
        return list(
            session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.event_sequence == event.sequence)
                .order_by(DeliveryAttempt.id)
            )
        )


def test_events_arrive_signed_once_each(webhook_receiver, sessions, org):
    secret = webhook_receiver.connect(org.org_id)
    case = str(uuid.uuid4())
    sent = emit_events(sessions, org.org_id, [case, case, None])

    assert deliver_due(sessions, now=utcnow(), policy=POLICY) == 3
    assert deliver_due(sessions, now=utcnow(), policy=POLICY) == 0  # nothing is sent twice
    deliveries = webhook_receiver.deliveries(org.org_id)
    assert len(deliveries) == 3 and all(d.accepted for d in deliveries)
    by_id = {d.event["id"]: d for d in deliveries}
    for event in sent:
        d = by_id[event.id]
        assert d.event == {
            "id": event.id,
            "type": "message.sent",
            "sequence": event.sequence,
            "created_at": event.created_at.isoformat(),
            "case_id": event.case_id,
            "data": event.payload,
        }
        h = d.headers
        assert h["x-dermatriage-event-id"] == event.id
        assert h["x-dermatriage-event-type"] == "message.sent"
        assert h["content-type"] == "application/json"
        assert h["x-dermatriage-signature"].startswith(f"t={h['x-dermatriage-timestamp']},v1=")
        assert verify_signature(secret, d.body, h["x-dermatriage-signature"], 60)
        assert not verify_signature(secret, d.body + b" ", h["x-dermatriage-signature"], 60)
        row = state(sessions, event)
        assert (row.delivery_state, row.attempts, row.last_status_code) == ("delivered", 1, 200)
        assert row.delivered_at is not None and row.next_attempt_at is None and row.claim_token is None
    order = [d.event["sequence"] for d in deliveries if d.event["case_id"] == case]
    assert order == [sent[0].sequence, sent[1].sequence]


def test_a_receiver_down_for_a_while_gets_every_event_afterwards_in_order(webhook_receiver, sessions, org):
    secret = webhook_receiver.connect(org.org_id)
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    sent = emit_events(sessions, org.org_id, [a, b, a, b, a])
    heads = [sent[0], sent[1]]
    webhook_receiver.stop()  # connection refused
    t = utcnow()

    assert deliver_due(sessions, now=t, policy=POLICY) == 0
    for event in sent:  # only each case's oldest event was tried; the others wait behind it
        assert state(sessions, event).attempts == (1 if event in heads else 0)
    first = state(sessions, sent[0])
    assert "Connection refused" in first.last_error or "URLError" in first.last_error
    assert secret not in first.last_error
    delay = (first.next_attempt_at - t).total_seconds()
    assert 1.6 <= delay <= 2.0  # 2 s, less up to 20 % jitter

    assert deliver_due(sessions, now=t + timedelta(seconds=1), policy=POLICY) == 0  # not due yet
    assert state(sessions, sent[0]).attempts == 1

    webhook_receiver.start()  # up again, but failing
    webhook_receiver.status = 500
    for attempt in range(2, 8):  # the delay doubles, up to the cap
        t = max(state(sessions, e).next_attempt_at for e in heads)
        assert deliver_due(sessions, now=t, policy=POLICY) == 0
        row = state(sessions, sent[0])
        assert (row.attempts, row.last_status_code, row.last_error) == (attempt, 500, "HTTP 500")
        expected = min(60.0, 2.0 * 2 ** (attempt - 1))
        assert 0.8 * expected <= (row.next_attempt_at - t).total_seconds() <= expected
    assert all(not d.accepted for d in webhook_receiver.deliveries(org.org_id))

    webhook_receiver.status = 200
    assert deliver_due(sessions, now=t + timedelta(hours=1), policy=POLICY) == 5
    events = webhook_receiver.events(org.org_id)
    assert sorted(e["id"] for e in events) == sorted(e.id for e in sent)
    for case in (a, b):
        per_case = [e["sequence"] for e in events if e["case_id"] == case]
        assert per_case == sorted(per_case) == [e.sequence for e in sent if e.case_id == case]
    history = attempts(sessions, sent[0])
    assert [h.attempt for h in history] == list(range(1, 9))
    assert history[0].status_code is None and history[0].error
    assert [h.status_code for h in history[1:]] == [500] * 6 + [200]
    assert [h.attempt for h in attempts(sessions, sent[2])] == [1]


def test_one_stuck_case_does_not_hold_up_the_others(webhook_receiver, sessions, org):
    webhook_receiver.connect(org.org_id)
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    a1, b1, a2, b2 = emit_events(sessions, org.org_id, [a, b, a, b])
    webhook_receiver.respond = lambda event: 503 if event["id"] == a1.id else 200
    t = utcnow()
    assert deliver_due(sessions, now=t, policy=POLICY) == 2  # b1, b2
    assert [e["id"] for e in webhook_receiver.events()] == [b1.id, b2.id]
    assert state(sessions, a2).attempts == 0

    webhook_receiver.respond = None
    assert deliver_due(sessions, now=t + timedelta(minutes=1), policy=POLICY) == 2
    assert [e["id"] for e in webhook_receiver.events()] == [b1.id, b2.id, a1.id, a2.id]


def test_pending_events_survive_a_restart(webhook_receiver, database_url, org):
    first_engine = make_engine(database_url)
    before = make_session_factory(first_engine)
    webhook_receiver.connect(org.org_id)
    sent = emit_events(before, org.org_id, [str(uuid.uuid4()), None])
    webhook_receiver.status = 500
    t = utcnow()
    assert deliver_due(before, now=t, policy=POLICY) == 0
    first_engine.dispose()  # the process ends

    second_engine = make_engine(database_url)
    after = make_session_factory(second_engine)
    try:
        webhook_receiver.status = 200
        assert deliver_due(after, now=t + timedelta(minutes=5), policy=POLICY) == 2
        assert {e["id"] for e in webhook_receiver.events()} == {e.id for e in sent}
        assert [state(after, e).attempts for e in sent] == [2, 2]
    finally:
        second_engine.dispose()


def test_an_event_claimed_by_a_worker_that_died_is_sent_again_after_its_lease(
    webhook_receiver, sessions, org
):
    webhook_receiver.connect(org.org_id)
    (event,) = emit_events(sessions, org.org_id, [str(uuid.uuid4())])
    t = utcnow()
    with transaction(sessions) as session:  # a worker claims it, then dies before sending
        assert [c.event_id for c in claim_due(session, now=t, policy=POLICY)] == [event.id]
    assert deliver_due(sessions, now=t + timedelta(seconds=5), policy=POLICY) == 0  # still held
    later = t + timedelta(seconds=POLICY.lease_s + 1)
    assert deliver_due(sessions, now=later, policy=POLICY) == 1
    row = state(sessions, event)
    assert (row.delivery_state, row.attempts) == ("delivered", 2)


def test_an_event_is_given_up_after_the_retry_window(webhook_receiver, sessions, org):
    webhook_receiver.connect(org.org_id)
    case = str(uuid.uuid4())
    stuck, behind = emit_events(sessions, org.org_id, [case, case])
    webhook_receiver.respond = lambda event: 500 if event["id"] == stuck.id else 200
    policy = RetryPolicy(backoff_base_s=2.0, retry_window_s=3600.0)
    assert deliver_due(sessions, now=stuck.created_at + timedelta(minutes=30), policy=policy) == 0
    assert state(sessions, stuck).delivery_state == "pending"
    assert deliver_due(sessions, now=stuck.created_at + timedelta(hours=2), policy=policy) == 1
    assert state(sessions, stuck).delivery_state == "failed"  # the feed still has it
    assert state(sessions, behind).delivery_state == "delivered"


def test_redirects_are_not_followed_and_slow_receivers_time_out(webhook_receiver, sessions, org):
    webhook_receiver.connect(org.org_id)
    redirected, slow = emit_events(sessions, org.org_id, [None, None])
    webhook_receiver.respond = lambda event: 302 if event["id"] == redirected.id else time.sleep(1.5) or 200
    assert deliver_due(sessions, now=utcnow(), policy=RetryPolicy(timeout_s=0.5)) == 0
    row = state(sessions, redirected)
    assert (row.delivery_state, row.last_status_code, row.last_error) == ("pending", 302, "HTTP 302")
    assert "timed out" in state(sessions, slow).last_error


def test_concurrent_passes_never_send_the_same_event_at_once(database_url, sessions, org):
    """Two workers (own engines), 60 events over 10 cases: each event sent once, never two events of
    one case in flight together, each case's events in order."""
    with transaction(sessions) as session:
        session.get(Organization, org.org_id).webhook_url = "https://intake.example/hooks"
        session.get(Organization, org.org_id).webhook_secret = "whsec_test"
    cases = [str(uuid.uuid4()) for _ in range(10)]
    sent = emit_events(sessions, org.org_id, [cases[i % 10] for i in range(60)])
    lock = threading.Lock()
    in_flight: set[str] = set()
    log: list[tuple[str, int]] = []
    problems: list[str] = []

    def post(url, body, headers, timeout):
        event = json.loads(body)
        with lock:
            if event["case_id"] in in_flight:
                problems.append(f"two events of case {event['case_id']} in flight")
            in_flight.add(event["case_id"])
            log.append((event["case_id"], event["sequence"]))
        if not verify_signature("whsec_test", body, headers["X-Dermatriage-Signature"], 60):
            problems.append("bad signature")
        time.sleep(0.01)
        with lock:
            in_flight.discard(event["case_id"])
        return 204

    engines = [make_engine(database_url) for _ in range(2)]
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def worker(engine):
        barrier.wait()
        counts.append(deliver_due(make_session_factory(engine), http_post=post, policy=RetryPolicy(batch=4)))

    threads = [threading.Thread(target=worker, args=(e,)) for e in engines]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for e in engines:
            e.dispose()
    assert problems == []
    assert sum(counts) == 60
    assert sorted(seq for _, seq in log) == [e.sequence for e in sent]  # each exactly once
    for case in cases:
        per_case = [seq for c, seq in log if c == case]
        assert per_case == sorted(per_case)


def test_the_service_delivers_in_the_background(webhook_receiver, settings, sessions, org):
    webhook_receiver.connect(org.org_id)
    background = settings.model_copy(update={"deliver_events": True, "event_poll_seconds": 0.1})
    with TestClient(create_app(background)) as client:
        r = client.post(
            "/v1/cases",
            data={"questionnaire": json.dumps({"jurisdiction": "US-CA", "age": 40})},
            files=[("photos", ("dark.jpg", unreadable_jpeg(), "image/jpeg"))],
            headers=org.headers(**{"Idempotency-Key": str(uuid.uuid4())}),
        )
        assert r.status_code == 201, r.text
        (event,) = webhook_receiver.wait_for(1, org_id=org.org_id, timeout=20)
    assert event["type"] == "case.retake_required" and event["case_id"] == r.json()["id"]


def test_backoff_doubles_to_its_cap_with_jitter():
    policy = RetryPolicy(backoff_base_s=2.0, backoff_cap_s=3600.0, jitter=0.2)
    for attempt, full in [(1, 2), (2, 4), (5, 32), (12, 3600), (200, 3600)]:
        delays = [backoff_seconds(attempt, policy) for _ in range(50)]
        assert all(0.8 * full <= d <= full for d in delays)
        assert len(set(delays)) > 1  # spread out

"""The retake deadline: a case whose photos are all unusable waits for a retake, and enters the queue
anyway once its organization's deadline (48 h by default) has passed: through the state machine, as the
system, audited, with a review due time from the SLA and the event ``case.retake_deadline_passed``."""

from __future__ import annotations

import json
import math
import threading
import uuid
from collections import Counter
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from conftest import make_org
from consults_support import send_photo
from factories import good_jpeg, unreadable_jpeg
from queue_cases import case_row, insert_cases, run_concurrently
from sqlalchemy import select, update
from webhook_receiver import webhook_receiver_fixture  # noqa: F401 - the webhook_receiver fixture

from model.messages import message
from serving.audit import AuditEvent
from serving.cases.models import Case
from serving.cases.retake_deadline import AUDIT_ACTION, PATIENT_ADVICE, queue_overdue_retakes
from serving.cases.states import ALLOWED_MOVES
from serving.cases.status import CaseStatus
from serving.cli import main
from serving.db import make_engine, make_session_factory, transaction, utcnow
from serving.events import types
from serving.events.delivery import RetryPolicy
from serving.events.models import OutboxEvent
from serving.orgs.models import Organization
from serving.orgs.service import (
    DEFAULT_RETAKE_DEADLINE_HOURS,
    retake_deadline_hours,
    set_retake_deadline,
    sla_policy,
)
from serving.worker import deliver_due

POLICY = RetryPolicy(backoff_base_s=2.0, backoff_cap_s=60.0, jitter=0.2, timeout_s=5.0)
QUESTIONNAIRE = {"jurisdiction": "US-CA", "age": 51, "body_site": "back"}


def submit(client, org, photo: bytes) -> dict:
    r = client.post(
        "/v1/cases",
        data={"questionnaire": json.dumps(QUESTIONNAIRE)},
        files=[("photos", ("lesion.jpg", photo, "image/jpeg"))],
        headers=org.headers(**{"Idempotency-Key": str(uuid.uuid4())}),
    )
    assert r.status_code == 201, r.text
    return r.json()


def waiting_case(client, org, sessions, *, waited: timedelta, now: datetime) -> str:
    """A case made through intake with an unusable photo, created ``waited`` before ``now``."""
    body = submit(client, org, unreadable_jpeg())
    assert body["status"] == "awaiting_retake" and body["triage"]["review_due_at"] is None
    backdate(sessions, body["id"], now - waited)
    return body["id"]


def backdate(sessions, case_id: str, created_at: datetime) -> None:
    with transaction(sessions) as session:
        session.execute(update(Case).where(Case.id == case_id).values(created_at=created_at))


def load(sessions, case_id: str) -> Case:
    with transaction(sessions) as session:
        return session.get(Case, case_id)


def _all(sessions, query) -> list:
    with transaction(sessions) as session:
        return list(session.scalars(query))


def audit_rows(sessions, case_id: str, action: str) -> list[AuditEvent]:
    where = (AuditEvent.resource_id == case_id, AuditEvent.action == action)
    return _all(sessions, select(AuditEvent).where(*where).order_by(AuditEvent.id))


def events_of(sessions, case_id: str, event_type: str = types.CASE_RETAKE_DEADLINE_PASSED):
    where = (OutboxEvent.case_id == case_id, OutboxEvent.event_type == event_type)
    return _all(sessions, select(OutboxEvent).where(*where).order_by(OutboxEvent.sequence))


def run_pass(sessions, org, now: datetime) -> int:
    with transaction(sessions) as session:
        return queue_overdue_retakes(session, now, organization_id=org.org_id)


def test_a_case_past_its_deadline_is_queued_by_the_worker_pass(client, org, sessions, webhook_receiver):
    case_id = waiting_case(client, org, sessions, waited=timedelta(hours=48, minutes=1), now=utcnow())
    webhook_receiver.connect(org.org_id)  # from now on the organization's events are POSTed

    before = utcnow()
    assert deliver_due(sessions, policy=POLICY) >= 1  # queued, and its event delivered (real clock)

    case = load(sessions, case_id)
    assert case.status is CaseStatus.queued
    assert case.retake_required is True  # still no usable photo: the dermatologist sees it flagged
    assert before <= case.queued_at <= utcnow() and case.last_queued_at == case.queued_at
    with transaction(sessions) as session:
        org_row = session.get(Organization, org.org_id)
        assert case.review_due_at == sla_policy(org_row).due_at(case.queued_at, case.tier)

    (move,) = audit_rows(sessions, case_id, "case.transition")
    assert (move.detail["from"], move.detail["to"]) == ("awaiting_retake", "queued")
    assert "retake deadline passed" in move.detail["reason"]
    assert move.actor_role == "system" and move.actor_key_id is None
    (passed,) = audit_rows(sessions, case_id, AUDIT_ACTION)
    assert passed.actor_role == "system" and passed.organization_id == org.org_id
    assert passed.detail["deadline_hours"] == DEFAULT_RETAKE_DEADLINE_HOURS == 48
    assert passed.detail["awaiting_retake_since"] == case.created_at.isoformat()
    assert passed.detail["deadline_at"] == (case.created_at + timedelta(hours=48)).isoformat()

    (event,) = events_of(sessions, case_id)
    assert event.payload == {
        "case_id": case_id,
        "status": "queued",
        "tier": case.tier.value,
        "awaiting_retake_since": case.created_at.isoformat(),
        "deadline_at": (case.created_at + timedelta(hours=48)).isoformat(),
        "review_due_at": case.review_due_at.isoformat(),
        "patient_advice": [message(PATIENT_ADVICE)],
        "recipient": {"kind": "patient"},
    }
    (delivered,) = webhook_receiver.events(org.org_id)  # in the same pass
    assert delivered["type"] == "case.retake_deadline_passed" and delivered["case_id"] == case_id

    # the intake system reads it in its feed, and the dermatologists find the case in their queue
    feed = client.get("/v1/events", params={"after": 0}, headers=org.headers()).json()["events"]
    assert [e["type"] for e in feed] == ["case.retake_required", "case.retake_deadline_passed"]
    queue = client.get("/v1/queue", headers=org.headers("dermatologist")).json()
    (item,) = [i for i in queue["items"] if i["case_id"] == case_id]
    assert item["retake_required"] is True and item["review_due_at"] is not None


@pytest.mark.parametrize(
    "waited, queued",
    [(timedelta(hours=47, minutes=59), False), (timedelta(hours=48), True), (timedelta(days=9), True)],
    ids=["before", "at-the-deadline", "long-after"],
)
def test_the_deadline_counts_from_when_the_case_began_to_wait(client, org, sessions, waited, queued):
    now = utcnow()
    case_id = waiting_case(client, org, sessions, waited=waited, now=now)
    assert run_pass(sessions, org, now) == int(queued)
    case = load(sessions, case_id)
    if queued:
        assert case.status is CaseStatus.queued and case.review_due_at is not None
    else:
        assert case.status is CaseStatus.awaiting_retake
        assert (case.queued_at, case.review_due_at) == (None, None)
        assert audit_rows(sessions, case_id, "case.transition") == []
        assert audit_rows(sessions, case_id, AUDIT_ACTION) == []
        assert events_of(sessions, case_id) == []


def test_an_organizations_own_deadline_is_honoured(client, org, other_org, sessions):
    with transaction(sessions) as session:
        assert set_retake_deadline(session, org=session.get(Organization, org.org_id), hours=6) == 6.0
    now = utcnow()
    short = waiting_case(client, org, sessions, waited=timedelta(hours=6, minutes=1), now=now)
    not_yet = waiting_case(client, org, sessions, waited=timedelta(hours=5), now=now)
    default = waiting_case(client, other_org, sessions, waited=timedelta(hours=6, minutes=1), now=now)

    with transaction(sessions) as session:
        assert queue_overdue_retakes(session, now) >= 1  # every organization
    assert load(sessions, short).status is CaseStatus.queued
    assert load(sessions, not_yet).status is CaseStatus.awaiting_retake
    assert load(sessions, default).status is CaseStatus.awaiting_retake  # other_org keeps 48 h
    (passed,) = audit_rows(sessions, short, AUDIT_ACTION)
    assert passed.detail["deadline_hours"] == 6.0

    # a longer deadline (the default again) leaves a 6-hour-old case waiting
    with transaction(sessions) as session:
        set_retake_deadline(session, org=session.get(Organization, org.org_id), hours=None)
    later = utcnow()
    assert run_pass(sessions, org, later + timedelta(hours=1)) == 0
    assert load(sessions, not_yet).status is CaseStatus.awaiting_retake


def test_the_pass_is_idempotent(client, org, sessions):
    now = utcnow()
    case_id = waiting_case(client, org, sessions, waited=timedelta(hours=50), now=now)
    assert run_pass(sessions, org, now) == 1
    due = load(sessions, case_id).review_due_at
    assert run_pass(sessions, org, now) == 0
    assert run_pass(sessions, org, now + timedelta(hours=1)) == 0
    assert load(sessions, case_id).review_due_at == due
    assert len(audit_rows(sessions, case_id, "case.transition")) == 1
    assert len(audit_rows(sessions, case_id, AUDIT_ACTION)) == 1
    assert len(events_of(sessions, case_id)) == 1


def test_a_case_that_got_a_usable_photo_or_more_unusable_ones(client, org, sessions):
    now = utcnow()
    retaken = waiting_case(client, org, sessions, waited=timedelta(hours=50), now=now)
    assert send_photo(client, org, retaken, good_jpeg(4))["status"] == "queued"
    # more unreadable photos do not restart the wait: the deadline counts from the case's creation
    trying = waiting_case(client, org, sessions, waited=timedelta(hours=50), now=now)
    assert send_photo(client, org, trying, unreadable_jpeg(2))["status"] == "awaiting_retake"

    assert run_pass(sessions, org, utcnow()) == 1
    assert events_of(sessions, retaken) == [] and audit_rows(sessions, retaken, AUDIT_ACTION) == []
    assert load(sessions, trying).status is CaseStatus.queued

    # once queued without a usable photo, a usable retake still re-triages it (no second deadline event)
    r = client.post(
        f"/v1/cases/{trying}/photos",
        files=[("photos", ("good.jpg", good_jpeg(6), "image/jpeg"))],
        headers=org.headers(),
    )
    assert r.status_code == 200 and r.json()["status"] == "queued"
    assert r.json()["triage"]["retake_required"] is False
    assert len(events_of(sessions, trying)) == 1


def test_awaiting_retake_is_only_a_starting_status():
    """``awaiting_retake_since()`` counts the wait from the case's creation because no move leads into
    ``awaiting_retake``; a new move into it must come with a timestamp of when the case entered it."""
    assert not [s for s, targets in ALLOWED_MOVES.items() if CaseStatus.awaiting_retake in targets]


@pytest.mark.parametrize("hours", [0, -1, math.nan, math.inf, True, "12", 24 * 30 + 1])
def test_a_deadline_must_be_a_positive_number_of_hours(sessions, org, hours):
    with transaction(sessions) as session:
        row = session.get(Organization, org.org_id)
        with pytest.raises(ValueError):
            set_retake_deadline(session, org=row, hours=hours)
        assert row.retake_deadline_hours is None
        assert retake_deadline_hours(row) == DEFAULT_RETAKE_DEADLINE_HOURS
        assert set_retake_deadline(session, org=row, hours=0.5) == 0.5
        assert set_retake_deadline(session, org=row, hours=None) == DEFAULT_RETAKE_DEADLINE_HOURS


def test_commands_set_the_deadline_and_queue_overdue_cases(client, org, sessions, database_url):
    runner = CliRunner()
    env = {"DATABASE_URL": database_url}

    def run(*args: str) -> str:
        result = runner.invoke(main, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    assert "retake deadline 48 h (default)" in run("orgs", "retake-deadline", "--org", org.slug)
    assert "retake deadline 12 h" in run("orgs", "retake-deadline", "--org", org.slug, "12")
    assert "12 h" in run("orgs", "retake-deadline", "--org", org.slug)
    for bad in ("0", "-3", "soon", "nan"):
        refused = runner.invoke(main, ["orgs", "retake-deadline", "--org", org.slug, bad], env=env)
        assert refused.exit_code != 0, bad
    with transaction(sessions) as session:
        assert session.get(Organization, org.org_id).retake_deadline_hours == 12.0

    case_id = waiting_case(client, org, sessions, waited=timedelta(hours=13), now=utcnow())
    assert "1 case(s) queued" in run("retakes", "queue-overdue", "--org", org.slug)
    assert load(sessions, case_id).status is CaseStatus.queued
    assert "0 case(s) queued" in run("retakes", "queue-overdue", "--org", org.slug)
    assert "default" in run("orgs", "retake-deadline", "--org", org.slug, "default")
    unknown = runner.invoke(main, ["retakes", "queue-overdue", "--org", "no-such-org"], env=env)
    assert unknown.exit_code != 0 and "no organization" in unknown.output


WORKERS = 6
CASES = 40


def test_concurrent_passes_queue_each_case_exactly_once(database_url):
    """Several workers at once (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: serialized writers)."""
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    try:
        org = make_org(sessions)
        now = utcnow()
        ids = insert_cases(
            sessions,
            [
                case_row(
                    org.org_id,
                    status="awaiting_retake",
                    age=timedelta(hours=49),
                    now=now,
                    retake_required=True,
                    queued_at=None,
                    review_due_at=None,
                )
                for _ in range(CASES)
            ],
        )
        counts: list[int] = []
        errors: list[BaseException] = []
        start = threading.Barrier(WORKERS)

        def work() -> None:
            try:
                start.wait()
                mine = 0
                while True:
                    with transaction(sessions) as session:
                        n = queue_overdue_retakes(session, now, organization_id=org.org_id, limit=3)
                    if not n:
                        break
                    mine += n
                counts.append(mine)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        run_concurrently([work] * WORKERS, "workers")
        assert errors == []
        # a worker may stop early when every due case left is locked by the others: one more pass
        with transaction(sessions) as session:
            counts.append(queue_overdue_retakes(session, now, organization_id=org.org_id))
        assert sum(counts) == CASES

        with transaction(sessions) as session:
            statuses = session.scalars(select(Case.status).where(Case.id.in_(ids))).all()
            moves = Counter(
                session.scalars(
                    select(AuditEvent.resource_id).where(
                        AuditEvent.resource_id.in_(ids), AuditEvent.action == "case.transition"
                    )
                )
            )
            emitted = Counter(
                session.scalars(
                    select(OutboxEvent.case_id).where(
                        OutboxEvent.case_id.in_(ids),
                        OutboxEvent.event_type == types.CASE_RETAKE_DEADLINE_PASSED,
                    )
                )
            )
        assert set(statuses) == {CaseStatus.queued}
        assert moves == Counter(ids) and emitted == Counter(ids)  # each exactly once
    finally:
        engine.dispose()

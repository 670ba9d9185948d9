"""Bugs 1, 2 and 6 of issue 15 (the dermatologist's workspace), reproduced through the API on SQLite and
PostgreSQL:

1. an emergency that goes back to the queue (released, lease expired, reviewer deactivated, patient
   answered) keeps its emergency pin, and the SLA figures agree (``emergency_open`` counts it,
   ``queue_depth`` does not list it as an ordinary queued EMERGENCY);
2. the first-review SLA is judged against the first review's due time: a late first review stays late
   when the patient later sends new photos (the returning case gets its own queue due time);
6. the dermatologist who scheduled a follow-up can close the case waiting for it (the follow-up is
   cancelled and the intake system told), another dermatologist gets a 409 saying who can.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from alembic import command
from conftest import make_dermatologist, throwaway_postgres
from consults_support import (
    QUESTIONNAIRE,
    bearer,
    claim,
    diagnosed,
    follow_up_body,
    last_event,
    send_photo,
    status_of,
    submit,
)
from factories import good_jpeg
from queue_cases import case_row
from sqlalchemy import MetaData, insert, inspect, select, update
from web_support import csrf, default_dermatologist, sign_in, with_password

from serving.audit import AuditEvent
from serving.cases.models import Case
from serving.consults.models import FollowUp
from serving.db import make_engine, make_session_factory, transaction, utcnow
from serving.events import types
from serving.migrations import alembic_config, upgrade
from serving.orgs.models import Organization
from serving.orgs.service import set_sla

EMERGENCY_ANSWERS = dict(QUESTIONNAIRE, fever=True, spreading_rapidly=True)


# -- 1. an emergency keeps its pin when it goes back ------------------------------------------


def _emergency(client, org) -> str:
    case = submit(client, org, questionnaire=EMERGENCY_ANSWERS)
    assert (case["status"], case["triage"]["tier"]) == ("emergency", "EMERGENCY")
    return case["id"]


def _take_now(client, org, case_id: str, key: str | None = None) -> None:
    r = claim(client, org, case_id, key)
    assert r.status_code == 200, r.text
    assert r.json()["case"]["status"] == "in_review"


def _assert_pinned(client, org, sessions, case_id: str) -> None:
    """The case is an emergency again: pinned above the queue, counted once by the SLA figures."""
    page = client.get("/v1/queue", headers=org.headers("dermatologist")).json()  # sweeps expired leases
    assert status_of(sessions, case_id) == "emergency"
    assert [i["case_id"] for i in page["emergency"]] == [case_id]
    assert case_id not in [i["case_id"] for i in page["items"]]
    sla = client.get("/v1/metrics/sla", headers=org.headers("dermatologist")).json()
    assert sla["emergency_open"] == 1
    assert sla["queue_depth"]["EMERGENCY"] == 0 and sla["queued"] == 0
    assert sla["in_review"] == 0


def test_released_emergency_keeps_its_pin(client, org, sessions):
    case_id = _emergency(client, org)
    _take_now(client, org, case_id)
    r = client.post(
        f"/v1/cases/{case_id}/release", json={"reason": "not mine"}, headers=org.headers("dermatologist")
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "emergency" and r.json()["assigned_to"] is None
    _assert_pinned(client, org, sessions, case_id)
    # and it can be taken again at once
    _take_now(client, org, case_id)


def test_emergency_whose_lease_expired_keeps_its_pin(client, org, sessions):
    case_id = _emergency(client, org)
    _take_now(client, org, case_id)
    with transaction(sessions) as session:
        session.execute(
            update(Case).where(Case.id == case_id).values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
    _assert_pinned(client, org, sessions, case_id)  # listing the queue sweeps the expired lease


def test_emergency_of_a_deactivated_reviewer_keeps_its_pin(client, org, sessions):
    r = client.post(
        "/v1/users",
        json={"name": "Dr. Leaving", "role": "dermatologist", "jurisdictions": ["US-CA"]},
        headers=org.headers("admin"),
    )
    assert r.status_code == 201, r.text
    leaving, key = r.json()["user"]["id"], r.json()["api_key"]
    case_id = _emergency(client, org)
    _take_now(client, org, case_id, key)
    r = client.post(f"/v1/users/{leaving}/deactivate", headers=org.headers("admin"))
    assert r.status_code == 200, r.text
    _assert_pinned(client, org, sessions, case_id)


def test_emergency_answered_by_the_patient_keeps_its_pin(client, org, sessions):
    case_id = _emergency(client, org)
    _take_now(client, org, case_id)
    question = {"body": "Do you have a fever today?", "question": True}
    r = client.post(f"/v1/cases/{case_id}/messages", json=question, headers=org.headers("dermatologist"))
    assert r.status_code == 201, r.text
    assert status_of(sessions, case_id) == "awaiting_patient"
    r = client.post(f"/v1/cases/{case_id}/messages", json={"body": "Yes, 39 C."}, headers=org.headers())
    assert r.status_code == 201, r.text
    _assert_pinned(client, org, sessions, case_id)


# -- 2. a late first review stays late --------------------------------------------------------


def _set_sla(sessions, org, hours: dict[str, float] | None) -> None:
    with transaction(sessions) as session:
        set_sla(session, org=session.get(Organization, org.org_id), hours=hours)


def test_late_first_review_stays_late_after_the_patient_sends_new_photos(client, org, sessions):
    _set_sla(sessions, org, {tier: 0.0001 for tier in ("EMERGENCY", "URGENT", "PRIORITY", "ROUTINE")})
    late = submit(client, org)["id"]  # due 0.36 s after it is queued
    time.sleep(0.5)
    _take_now(client, org, late)  # the first review is late
    _set_sla(sessions, org, None)  # back to 48 h for a routine case
    on_time = submit(client, org)["id"]
    _take_now(client, org, on_time)
    with transaction(sessions) as session:
        first_due = session.get(Case, late).review_due_at
    r = client.post(
        f"/v1/cases/{late}/retake-request",
        json={"instructions": "Closer, in daylight, please."},
        headers=org.headers("dermatologist"),
    )
    assert r.status_code == 201, r.text
    returned = send_photo(client, org, late, good_jpeg(seed=7))  # the patient sends new photos
    assert returned["status"] == "queued"

    m = client.get("/v1/metrics/sla", headers=org.headers("dermatologist")).json()
    c = m["compliance"]
    assert (c["reviewed"], c["within_sla"], c["share_within_sla"]) == (2, 1, 0.5), c
    assert c["overdue_unreviewed"] == 0  # the returning case owes no first review
    with transaction(sessions) as session:
        case = session.get(Case, late)
        # the first review's due time is kept; the returning case has its own queue due time
        assert case.first_review_due_at == first_due < case.first_reviewed_at
        assert case.review_due_at > utcnow() + timedelta(hours=47)
    assert (m["queued"], m["overdue"]) == (1, 0)


# -- 6. the dermatologist who scheduled a follow-up can close the case ------------------------


def _waiting_for_follow_up(client, org) -> tuple[str, str]:
    case_id = diagnosed(client, org)
    r = client.post(
        f"/v1/cases/{case_id}/follow-ups", json=follow_up_body(), headers=org.headers("dermatologist")
    )
    assert r.status_code == 201, r.text
    return case_id, r.json()["follow_up"]["id"]


def test_dermatologist_who_scheduled_a_follow_up_can_close_the_case(client, org, sessions):
    case_id, follow_up_id = _waiting_for_follow_up(client, org)
    r = client.post(
        f"/v1/cases/{case_id}/close",
        json={"reason": "Resolved, the patient phoned."},
        headers=org.headers("dermatologist"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["case"]["status"] == "closed"
    with transaction(sessions) as session:  # closing cancels the follow-up, and says so
        assert session.scalar(select(FollowUp.status).where(FollowUp.id == follow_up_id)) == "cancelled"
    event = last_event(sessions, case_id)
    assert event.event_type == types.CASE_CLOSED
    assert event.payload["follow_ups_cancelled"] == [follow_up_id]


def test_another_dermatologist_is_told_who_can_close_a_case_waiting_for_follow_up(client, org, sessions):
    case_id, _ = _waiting_for_follow_up(client, org)
    other = make_dermatologist(sessions, org.org_id)
    r = client.post(f"/v1/cases/{case_id}/close", json={"reason": "resolved"}, headers=bearer(other))
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "follow_up_owner_required" and "Dr. Default" in error["message"]
    assert "admin" in error["fix"]
    assert status_of(sessions, case_id) == "follow_up_scheduled"
    r = client.post(f"/v1/cases/{case_id}/close", json={"reason": "moved away"}, headers=org.headers("admin"))
    assert r.status_code == 200, r.text


def test_the_case_page_offers_close_to_who_scheduled_the_follow_up_only(client, org, sessions):
    """The page offers what the service allows: the scheduler sees the Close form and closing from the
    page works; another dermatologist of the organization sees no Close form."""
    case_id, _ = _waiting_for_follow_up(client, org)
    default_dermatologist(sessions, org.org_id)
    with_password(sessions, org.org_id, login="other")
    close_form = f'action="/cases/{case_id}/close"'
    assert sign_in(client, org.slug, "other").status_code == 303
    assert close_form not in client.get(f"/cases/{case_id}").text
    client.cookies.clear()
    assert sign_in(client, org.slug, "derm").status_code == 303
    assert close_form in client.get(f"/cases/{case_id}").text
    r = client.post(
        f"/cases/{case_id}/close",
        data={"csrf_token": csrf(client, f"/cases/{case_id}"), "reason": "Resolved, the patient phoned."},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert status_of(sessions, case_id) == "closed"


# -- the migration (0012) for the cases already in a database ---------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'legacy.db'}"
    else:
        with throwaway_postgres() as url:
            yield url


def test_migration_keeps_first_review_due_times_and_pins_queued_emergencies(empty_url):
    upgrade(empty_url, "0011")
    engine = make_engine(empty_url)
    tables = MetaData()  # rows written as the tables were then: the models describe today's tables
    tables.reflect(engine, only=["cases", "audit_events", "organizations"])
    cases, audit = tables.tables["cases"], tables.tables["audit_events"]
    now = utcnow()
    org_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            insert(tables.tables["organizations"]),
            [{"id": org_id, "slug": "legacy", "name": "Legacy", "created_at": now}],
        )
    H = timedelta(hours=1)
    returned = case_row(  # late first review (due at 48 h, taken at 50 h), then new photos reset its due
        org_id,
        age=60 * H,
        first_reviewed_at=now - 10 * H,
        last_queued_at=now - H,
        review_due_at=now + 47 * H,
        submitted_tier="ROUTINE",
    )
    released = case_row(  # released on time: no photos since, its due time is still the first one
        org_id,
        age=5 * H,
        first_reviewed_at=now - 4 * H,
        last_queued_at=now - 3 * H,
        submitted_tier="ROUTINE",
    )
    stray = case_row(  # an emergency released before the fix
        org_id,
        tier="EMERGENCY",
        urgency=0.99,
        due_in=-H,
        first_reviewed_at=now - 2 * H,
        last_queued_at=now - H,
        submitted_tier="EMERGENCY",
    )
    audit_row = {"organization_id": org_id, "resource_type": "case", "outcome": "ok", "actor_role": "x"}
    with engine.begin() as conn:
        conn.execute(insert(cases), [returned, released, stray])
        conn.execute(
            insert(audit),
            [
                audit_row
                | {
                    "at": now - 10 * H,
                    "action": "case.claim",
                    "resource_id": returned["id"],
                    "detail": {"tier": "ROUTINE"},
                },
                audit_row
                | {"at": now - H, "action": "case.photos.add", "resource_id": returned["id"], "detail": {}},
                audit_row
                | {"at": now - 4 * H, "action": "case.claim", "resource_id": released["id"], "detail": {}},
            ],
        )
    upgrade(empty_url)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        assert session.get(Case, returned["id"]).first_review_due_at == returned["queued_at"] + 48 * H
        kept = session.get(Case, released["id"])
        assert kept.first_review_due_at == kept.review_due_at == released["review_due_at"]
        assert session.get(Case, stray["id"]).status == "emergency"
        moves = session.scalars(
            select(AuditEvent.detail).where(
                AuditEvent.resource_id == stray["id"], AuditEvent.action == "case.transition"
            )
        ).all()
        assert [(m["from"], m["to"]) for m in moves] == [("queued", "emergency")]
    with engine.connect() as conn:
        command.downgrade(alembic_config(conn), "0011")
        conn.commit()
    engine.dispose()
    engine = make_engine(empty_url)
    assert "first_review_due_at" not in {c["name"] for c in inspect(engine).get_columns("cases")}
    with engine.connect() as conn:
        assert conn.scalar(select(cases.c.status).where(cases.c.id == stray["id"])) == "emergency"
    engine.dispose()
    upgrade(empty_url)  # and up again

"""Events: the outbox commits with the change, signatures, the feed, the intake events, the webhook
settings (API and command line)."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from click.testing import CliRunner
from conftest import cli_runner, make_org
from factories import good_jpeg, unreadable_jpeg
from fastapi.testclient import TestClient
from sqlalchemy import select
from webhook_receiver import WebhookReceiver

from serving.app import create_app
from serving.audit import AuditEvent
from serving.cli import main
from serving.db import make_engine, make_session_factory, transaction
from serving.events import types
from serving.events.models import DeliveryState, OutboxEvent
from serving.events.outbox import emit
from serving.events.service import set_webhook
from serving.events.signing import new_secret, signature_header, verify_signature
from serving.orgs.models import Organization

QUESTIONNAIRE = {"jurisdiction": "US-CA", "age": 57, "sex": "female", "body_site": "back"}


@pytest.fixture
def client(settings):
    """The app without background delivery: these tests deliver, if at all, by hand."""
    with TestClient(create_app(settings.model_copy(update={"deliver_events": False}))) as test_client:
        yield test_client


def submit(client, org, photos, questionnaire=QUESTIONNAIRE):
    r = client.post(
        "/v1/cases",
        data={"questionnaire": json.dumps(questionnaire)},
        files=[("photos", (f"p{i}.jpg", data, "image/jpeg")) for i, data in enumerate(photos)],
        headers=org.headers(**{"Idempotency-Key": str(uuid.uuid4())}),
    )
    assert r.status_code == 201, r.text
    return r.json()


def add_photos(client, org, case_id, photos):
    r = client.post(
        f"/v1/cases/{case_id}/photos",
        files=[("photos", (f"p{i}.jpg", data, "image/jpeg")) for i, data in enumerate(photos)],
        headers=org.headers(),
    )
    assert r.status_code == 200, r.text
    return r.json()


def feed(client, org, after=0, limit=100, role="intake"):
    return client.get("/v1/events", params={"after": after, "limit": limit}, headers=org.headers(role))


def emit_one(sessions, org_id, case_id=None, event_type=types.MESSAGE_SENT, payload=None):
    with transaction(sessions) as session:
        return emit(
            session, organization_id=org_id, event_type=event_type, case_id=case_id, payload=payload or {}
        ).sequence


def test_an_event_commits_or_rolls_back_with_its_transaction(sessions, org):
    case_id = str(uuid.uuid4())
    with pytest.raises(RuntimeError), transaction(sessions) as session:
        emit(session, organization_id=org.org_id, event_type=types.CASE_CLOSED, case_id=case_id, payload={})
        raise RuntimeError("the change failed")
    with transaction(sessions) as session:
        assert session.scalars(select(OutboxEvent).where(OutboxEvent.case_id == case_id)).all() == []

    sequence = emit_one(sessions, org.org_id, case_id, types.CASE_CLOSED, {"case_id": case_id})
    with transaction(sessions) as session:
        (event,) = session.scalars(select(OutboxEvent).where(OutboxEvent.case_id == case_id)).all()
    assert event.sequence == sequence
    uuid.UUID(event.id)
    assert event.delivery_state == DeliveryState.skipped  # no webhook: the feed only
    assert event.payload == {"case_id": case_id}


def test_events_are_numbered_in_order_and_pending_with_a_webhook(sessions, org):
    with transaction(sessions) as session:
        set_webhook(session, org=session.get(Organization, org.org_id), url="https://intake.example/hooks")
    first = emit_one(sessions, org.org_id, payload={"text": "a"})
    second = emit_one(sessions, org.org_id, payload={"text": "b"})
    assert second > first
    with transaction(sessions) as session:
        event = session.scalar(select(OutboxEvent).where(OutboxEvent.sequence == second))
        assert (event.delivery_state, event.attempts) == ("pending", 0)
        assert event.next_attempt_at is not None
        set_webhook(session, org=session.get(Organization, org.org_id), url=None)  # tidy up


def test_unknown_event_types_are_refused(sessions, org):
    with pytest.raises(ValueError, match="unknown event type"), transaction(sessions) as session:
        emit(session, organization_id=org.org_id, event_type="case.typo", case_id=None, payload={})


def test_signatures_verify_and_refuse_tampering():
    secret, body, now = new_secret(), b'{"id":"e1","data":{"x":1}}', 1_800_000_000
    header = signature_header(secret, body, now)
    assert header.startswith(f"t={now},v1=")
    assert verify_signature(secret, body, header, 300, now=now + 10)
    assert not verify_signature(secret, body.replace(b"1", b"2"), header, 300, now=now)  # body changed
    assert not verify_signature(new_secret(), body, header, 300, now=now)  # another secret
    assert not verify_signature(secret, body, header, 300, now=now + 301)  # replayed later
    forged_time = header.replace(f"t={now}", f"t={now + 100}")
    assert not verify_signature(secret, body, forged_time, 300, now=now + 100)  # timestamp is signed
    assert not verify_signature(secret, body, None, 300, now=now)
    assert not verify_signature(secret, body, "v1=abc", 300, now=now)
    assert not verify_signature(secret, body, f"t={now}", 300, now=now)
    other = signature_header(new_secret(), body, now).split(",")[1]
    assert verify_signature(secret, body, f"{header},{other}", 300, now=now)  # any v1 may match


def test_the_feed_pages_through_the_organizations_events_only(client, sessions, org, other_org):
    mine = [emit_one(sessions, org.org_id, str(uuid.uuid4()), payload={"text": f"m{i}"}) for i in range(7)]
    emit_one(sessions, other_org.org_id, payload={"text": "not yours"})

    seen, cursor = [], 0
    for expected_more in (True, True, False):
        r = feed(client, org, after=cursor, limit=3)
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["has_more"] is expected_more
        seen += [e["sequence"] for e in page["events"]]
        cursor = page["next_cursor"]
    assert seen == mine
    assert cursor == mine[-1]
    last = feed(client, org, after=cursor).json()
    assert last == {"events": [], "next_cursor": cursor, "has_more": False}

    event = feed(client, org, after=mine[0] - 1, limit=1).json()["events"][0]
    assert set(event) == {"id", "type", "sequence", "created_at", "case_id", "data", "delivery"}
    assert event["type"] == "message.sent" and event["data"] == {"text": "m0"}
    assert event["delivery"]["state"] == "skipped"

    theirs = feed(client, other_org).json()["events"]
    assert [e["data"] for e in theirs] == [{"text": "not yours"}]
    assert feed(client, org, role="dermatologist").status_code == 403
    assert feed(client, org, limit=0).status_code == 422
    assert feed(client, org, limit=501).json()["error"]["field"] == "limit"
    with transaction(sessions) as session:
        reads = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.organization_id == org.org_id, AuditEvent.action == "events.read")
            .order_by(AuditEvent.id)
        ).all()
    assert len(reads) >= 4 and reads[0].detail["count"] == 3


def test_intake_emits_retake_and_emergency_events(client, sessions, org):
    retake = submit(client, org, [unreadable_jpeg()])
    assert retake["status"] == "awaiting_retake"
    emergency = submit(client, org, [good_jpeg()], dict(QUESTIONNAIRE, fever=True, spreading_rapidly=True))
    assert emergency["status"] == "emergency"
    submit(client, org, [good_jpeg(3)])  # an ordinary queued case: nothing the patient must learn

    events = feed(client, org).json()["events"]
    assert [(e["type"], e["case_id"]) for e in events] == [
        ("case.retake_required", retake["id"]),
        ("case.emergency", emergency["id"]),
    ]
    data = events[0]["data"]
    assert data["status"] == "awaiting_retake"
    (photo,) = data["photos"]
    assert photo["photo_id"] == retake["photos"][0]["id"] and photo["verdict"] == "retake"
    assert photo["instructions"] == retake["triage"]["photos"][0]["quality"]["instructions"]
    advice = events[1]["data"]["patient_advice"]
    assert advice == emergency["triage"]["patient_advice"]
    assert any("emergency" in a.lower() for a in advice)

    # another unusable photo: the patient is asked again; a usable one: the case is queued, no event
    add_photos(client, org, retake["id"], [unreadable_jpeg(1)])
    add_photos(client, org, retake["id"], [good_jpeg(4)])
    later = feed(client, org, after=events[-1]["sequence"]).json()["events"]
    assert [e["type"] for e in later] == ["case.retake_required"]
    assert [p["batch"] for p in later[0]["data"]["photos"]] == [2]


def test_webhook_settings_through_the_api(client, sessions, org):
    admin = org.headers("admin")
    assert (
        client.put("/v1/webhook", json={"url": "https://a.example/h"}, headers=org.headers()).status_code
        == 403
    )
    bad = client.put("/v1/webhook", json={"url": "ftp://a.example/h"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "url"

    made = client.put("/v1/webhook", json={"url": "https://a.example/h"}, headers=admin).json()
    assert made["url"] == "https://a.example/h" and made["secret"].startswith("whsec_")
    moved = client.put("/v1/webhook", json={"url": "https://b.example/h"}, headers=admin).json()
    assert moved["secret"] is None  # the secret is kept, and never shown again
    rotated = client.put(
        "/v1/webhook", json={"url": "https://b.example/h", "rotate_secret": True}, headers=admin
    )
    assert rotated.json()["secret"] not in (None, made["secret"])

    emit_one(sessions, org.org_id, payload={"text": "waiting"})
    shown = client.get("/v1/webhook", headers=admin).json()
    assert shown == {"url": "https://b.example/h", "secret": None, "pending": 1, "failed": 0}
    removed = client.delete("/v1/webhook", headers=admin).json()
    assert removed == {"url": None, "secret": None, "pending": 0, "failed": 0}
    assert feed(client, org).json()["events"][-1]["delivery"]["state"] == "skipped"
    with transaction(sessions) as session:
        actions = session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.organization_id == org.org_id, AuditEvent.action.like("webhook.%"))
            .order_by(AuditEvent.id)
        ).all()
        assert actions == ["webhook.set"] * 3 + ["webhook.read", "webhook.remove"]
        assert rotated.json()["secret"] not in json.dumps(
            [a.detail for a in session.scalars(select(AuditEvent)).all()]
        )


def test_webhook_and_worker_commands(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {"DATABASE_URL": url}
    run = cli_runner(env)

    run("orgs", "create", "--slug", "north-clinic")
    receiver = WebhookReceiver().start()
    try:
        hook = f"{receiver.base_url}/hooks/north"
        secret = run("orgs", "webhook", "--org", "north-clinic", "--url", hook).stdout.strip()
        assert secret.startswith("whsec_")
        shown = run("orgs", "webhook", "--org", "north-clinic")
        assert hook in shown.stderr and secret not in shown.output
        rotated = run("orgs", "webhook", "--org", "north-clinic", "--rotate-secret").stdout.strip()
        assert rotated.startswith("whsec_") and rotated != secret
        receiver.add_secret("north", rotated)

        engine = make_engine(url)
        sessions = make_session_factory(engine)
        with transaction(sessions) as session:
            org_id = session.scalar(select(Organization.id).where(Organization.slug == "north-clinic"))
        emit_one(sessions, org_id, payload={"text": "hello"})
        assert "1 event(s) delivered" in run("worker", "--once").stdout
        assert [e["data"] for e in receiver.events()] == [{"text": "hello"}]

        assert "none" in run("orgs", "webhook", "--org", "north-clinic", "--remove").stderr
        engine.dispose()
    finally:
        receiver.stop()
    bad = CliRunner().invoke(
        main, ["orgs", "webhook", "--org", "north-clinic", "--url", "not a url"], env=env
    )
    assert bad.exit_code != 0 and "http" in bad.output


@pytest.mark.postgres
def test_feed_readers_never_skip_an_event_committed_late(postgres_url):
    """Two transactions emit; the one with the lower sequence commits last. The second one waits for
    it (advisory lock), so a reader's cursor never moves past an event that is still to commit."""
    engine = make_engine(postgres_url)
    sessions = make_session_factory(engine)
    org = make_org(sessions)
    try:
        slow = sessions()
        slow.begin()
        first = emit(
            slow, organization_id=org.org_id, event_type=types.MESSAGE_SENT, case_id=None, payload={}
        )
        later: list[int] = []
        thread = threading.Thread(target=lambda: later.append(emit_one(sessions, org.org_id)))
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive() and later == []  # waits for the first transaction
        with transaction(sessions) as session:
            assert (
                session.scalars(select(OutboxEvent).where(OutboxEvent.organization_id == org.org_id)).all()
                == []
            )
        slow.commit()
        slow.close()
        thread.join(10)
        assert later and later[0] > first.sequence
    finally:
        engine.dispose()

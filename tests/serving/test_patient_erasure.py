"""Erasing a patient (GDPR/CCPA) leaves nothing of them in any table or in the photo store: every
text and JSON column of every table, and every stored object, are scanned for what the patient sent
(external id, name, answers, messages, the dermatologist's words about them, photo bytes and
digests). Audit rows stay, naming the patient by their random id only; a photo whose content another
patient's case shares stays for that case."""

from __future__ import annotations

import base64
import json

from consults_support import PRESCRIPTION, bearer, claim
from factories import good_jpeg
from patients_support import case_of
from sqlalchemy import JSON, String, Text, create_engine, inspect, select, text

from serving.audit import AuditEvent
from serving.db import transaction
from serving.events import types
from serving.events.models import OutboxEvent
from serving.patients.models import Patient

ALICE = {"external_id": "emr-alice-4711", "display_name": "Alice Erasable", "birth_year": 1970}
SECRETS = {
    "concern": "it itches since the zebra-crossing fall",
    "lesion_label": "violet mole under the left clavicle",
    "medications": "quixotinib 5 mg",
}
ASSESSMENT = "Likely a seborrhoeic keratosis of the zebra-crossing patient."
QUESTION = "Has the violet mole bled since the marathon?"
REPLY = "Only after the marathon in Reykjavik."


def _scan_database(database_url: str, needles: list[str]) -> list[str]:
    """Every (table.column) of a text or JSON type whose value holds one of the needles."""
    engine = create_engine(database_url)
    found = []
    try:
        inspector = inspect(engine)
        with engine.connect() as conn:
            for table in inspector.get_table_names():
                columns = [
                    c["name"]
                    for c in inspector.get_columns(table)
                    if isinstance(c["type"], String | Text | JSON) or "JSON" in str(c["type"]).upper()
                ]
                if not columns:
                    continue
                quoted = ", ".join(f'"{c}"' for c in columns)
                for row in conn.execute(text(f'SELECT {quoted} FROM "{table}"')):
                    for column, value in zip(columns, row, strict=True):
                        shown = value if isinstance(value, str) else json.dumps(value, default=str)
                        found += [f"{table}.{column}: {n!r}" for n in needles if n in (shown or "")]
    finally:
        engine.dispose()
    return found


def _alice_with_everything(client, org) -> dict:
    """Two cases of Alice (one photo shared by content with Bob's case; seeds no other test uses, so no
    other case in the shared database holds the same photos), a diagnosis, a prescription,
    a question with an attachment and the patient's reply."""
    first = case_of(client, org, ALICE, seed=4711, **SECRETS)
    second = case_of(
        client, org, {"external_id": ALICE["external_id"]}, seed=4712, lesion_label="violet mole"
    )
    assert claim(client, org, first["id"]).status_code == 200
    derm = org.headers("dermatologist")
    attachment = good_jpeg(seed=4713)
    question = {
        "body": QUESTION,
        "question": True,
        "attachments": [{"content_base64": base64.b64encode(attachment).decode()}],
    }
    r = client.post(f"/v1/cases/{first['id']}/messages", json=question, headers=derm)
    assert r.status_code == 201, r.text
    attachment_sha = r.json()["message"]["attachments"][0]["sha256"]
    r = client.post(f"/v1/cases/{first['id']}/messages", json={"body": REPLY}, headers=org.headers("intake"))
    assert r.status_code == 201, r.text
    assert claim(client, org, first["id"]).status_code == 200  # the reply queued it again
    # drafted, then released as a signed consult note (its content names the patient: erased too)
    diagnosis = {"code": "L82.1", "assessment": ASSESSMENT, "patient_plan": "Nothing to do for the zebra."}
    r = client.post(f"/v1/cases/{first['id']}/diagnosis", json={**diagnosis, "draft": True}, headers=derm)
    assert r.status_code == 201, r.text
    r = client.post(
        f"/v1/cases/{first['id']}/prescriptions", json={**PRESCRIPTION, "draft": True}, headers=derm
    )
    assert r.status_code == 201, r.text
    r = client.post(f"/v1/cases/{first['id']}/consult-note", json={"confirm": True}, headers=derm)
    assert r.status_code == 201, r.text
    unique = first["photos"][0]
    stored = client.get(f"/v1/cases/{first['id']}/photos/{unique['id']}/image", headers=derm).content
    return {
        "cases": [first, second],
        "patient_id": first["patient_id"],
        "needles": [
            ALICE["external_id"],
            ALICE["display_name"],
            *SECRETS.values(),
            ASSESSMENT,
            QUESTION,
            REPLY,
            unique["sha256"],
            attachment_sha,
        ],
        "photo_bytes": stored,
        "digests": [unique["sha256"], attachment_sha],
    }


def test_erasure_leaves_nothing_of_the_patient_in_the_database_or_the_store(
    client, org, sessions, database_url
):
    alice = _alice_with_everything(client, org)
    bob = case_of(client, org, {"external_id": "emr-bob", "display_name": "Bob Stays"}, seed=4712)
    assert bob["photos"][0]["sha256"] == alice["cases"][1]["photos"][0]["sha256"]  # one stored object
    before = _scan_database(database_url, alice["needles"])
    assert {hit.split(": ", 1)[1] for hit in before} == {repr(n) for n in alice["needles"]}, before
    assert any(hit.startswith("consult_notes.content") for hit in before), before
    store = client.app.state.intake.store
    assert any(store.read(key) == alice["photo_bytes"] for key in store.iter_keys())
    patient_id = alice["patient_id"]

    assert (
        client.delete(f"/v1/patients/{patient_id}", headers=org.headers("dermatologist")).status_code == 403
    )
    assert client.delete(f"/v1/patients/{patient_id}", headers=org.headers("intake")).status_code == 403
    r = client.delete(f"/v1/patients/{patient_id}", headers=org.headers("admin"))
    assert r.status_code == 204, r.text
    assert client.delete(f"/v1/patients/{patient_id}", headers=org.headers("admin")).status_code == 204

    assert _scan_database(database_url, alice["needles"]) == []
    for key in store.iter_keys():
        assert not any(digest in key for digest in alice["digests"]), key
        assert store.read(key) != alice["photo_bytes"], key

    admin = org.headers("admin")
    assert client.get(f"/v1/patients/{patient_id}", headers=admin).status_code == 404
    r = client.get("/v1/patients", params={"external_id": ALICE["external_id"]}, headers=admin)
    assert r.status_code == 404
    for case in alice["cases"]:
        assert client.get(f"/v1/cases/{case['id']}", headers=admin).status_code == 404
    # Bob's photo, the same content as one of Alice's, is still there
    photo = bob["photos"][0]
    assert client.get(photo["image_url"], headers=admin).status_code == 200
    assert (
        client.get(f"/v1/patients/{bob['patient_id']}", headers=admin).json()["display_name"] == "Bob Stays"
    )

    with transaction(sessions) as session:
        erased = session.get(Patient, patient_id)
        assert erased.erased_at is not None and erased.external_id is None and erased.display_name is None
        (event,) = session.scalars(
            select(OutboxEvent).where(
                OutboxEvent.organization_id == org.org_id, OutboxEvent.event_type == types.PATIENT_ERASED
            )
        ).all()
        assert event.payload == {"patient_id": patient_id, "cases": 2}
        case_ids = [c["id"] for c in alice["cases"]]
        kept = session.scalars(select(AuditEvent.action).where(AuditEvent.resource_id.in_(case_ids))).all()
        assert "case.create" in kept  # the audit trail stays, by id
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.resource_id == patient_id)).all()
        assert actions.count("patient.erase") == 1 and "patient.erase.replay" in actions

    # the intake system may send the same external id again: a new patient, nothing of the old one
    again = case_of(client, org, {"external_id": ALICE["external_id"]}, seed=4714)
    assert again["patient_id"] != patient_id
    fresh = client.get(f"/v1/patients/{again['patient_id']}", headers=admin).json()
    assert [c["id"] for c in fresh["cases"]] == [again["id"]] and fresh["lesions"] == []


def test_an_erasure_event_reaches_the_feed(client, org):
    case = case_of(client, org, {"external_id": "emr-feed"})
    assert (
        client.delete(f"/v1/patients/{case['patient_id']}", headers=org.headers("admin")).status_code == 204
    )
    feed = client.get("/v1/events", headers=bearer(org.intake)).json()
    erased = [e for e in feed["events"] if e["type"] == types.PATIENT_ERASED]
    assert [e["data"]["patient_id"] for e in erased] == [case["patient_id"]]

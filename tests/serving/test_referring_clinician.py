"""Referring clinicians and caregivers: a case a clinician referred (the practice named in
``submitted_by``) gets, when its consult note is released, a referral letter addressed to the practice
(the PDF opened and read with pypdf) and a ``referral_letter.ready`` event whose recipient is the
practice; a caregiver's case names the caregiver in its patient-facing texts; a clinician who names no
practice is refused with a 422 that says what to add."""

from __future__ import annotations

import io
import json
import uuid

from consults_support import (
    DIAGNOSIS,
    PRESCRIPTION,
    QUESTIONNAIRE,
    audit_actions,
    claim,
    event_types,
    last_event,
)
from factories import good_jpeg, unreadable_jpeg
from pypdf import PdfReader
from sqlalchemy import select

from serving.db import transaction
from serving.events import recipients, types
from serving.events.models import OutboxEvent

REFERRER = {
    "role": "clinician",
    "name": "Dr. Ada Okafor",
    "practice": "Maple Street Family Medicine",
    "practice_id": "NPI 1234567893",
    "address": "12 Maple Street, Springfield, CA 90000",
    "contact": "referrals@maplestreet.example",
    "question": "Is this acne or rosacea, and should I start an oral antibiotic?",
}
CAREGIVER = {"role": "caregiver", "name": "Maria Silva", "relation": "daughter"}


def _submit(client, org, submitted_by: dict, photo: bytes | None = None):
    return client.post(
        "/v1/cases",
        data={"questionnaire": json.dumps(QUESTIONNAIRE), "submitted_by": json.dumps(submitted_by)},
        files=[("photos", ("lesion.jpg", photo or good_jpeg(), "image/jpeg"))],
        headers=org.headers("intake", **{"Idempotency-Key": str(uuid.uuid4())}),
    )


def _events(sessions, case_id: str) -> list[OutboxEvent]:
    with transaction(sessions) as session:
        query = select(OutboxEvent).where(OutboxEvent.case_id == case_id).order_by(OutboxEvent.sequence)
        return list(session.scalars(query))


def _released_referral(client, org) -> str:
    r = _submit(client, org, REFERRER)
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["submitted_by"] == REFERRER
    assert claim(client, org, case["id"]).status_code == 200
    derm = org.headers("dermatologist")
    for path, body in (("diagnosis", DIAGNOSIS), ("prescriptions", PRESCRIPTION)):
        r = client.post(f"/v1/cases/{case['id']}/{path}", json={**body, "draft": True}, headers=derm)
        assert r.status_code == 201, r.text
    r = client.post(f"/v1/cases/{case['id']}/consult-note", json={"confirm": True}, headers=derm)
    assert r.status_code == 201, r.text
    return case["id"]


def _pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    assert 1 <= len(reader.pages) <= 2
    return "\n".join(page.extract_text() for page in reader.pages)


def test_a_released_referral_sends_the_letter_to_the_referring_practice(client, org, sessions):
    case_id = _released_referral(client, org)
    assert event_types(sessions, case_id)[-2:] == [types.CONSULT_RELEASED, types.REFERRAL_LETTER_READY]
    released, ready = _events(sessions, case_id)[-2:]
    url = f"/v1/cases/{case_id}/referral-letter.pdf?number=1"
    assert released.payload["referral_letter_url"] == url
    assert released.payload["recipient"] == {"kind": "patient"}  # the patient hears the outcome too
    assert ready.payload["letter_url"] == url and ready.payload["number"] == 1
    assert ready.payload["recipient"] == {
        "kind": "referring_practice",
        "name": "Maple Street Family Medicine",
        "clinician": "Dr. Ada Okafor",
        "contact": "referrals@maplestreet.example",
        "practice_id": "NPI 1234567893",
        "address": "12 Maple Street, Springfield, CA 90000",
    }
    # the intake system reads the event in its feed
    feed = client.get("/v1/events", params={"after": 0}, headers=org.headers()).json()["events"]
    assert any(e["type"] == "referral_letter.ready" and e["case_id"] == case_id for e in feed)
    # and in FHIR: the dermatologist's DiagnosticReport presents the note and the letter to the practice
    report = client.get(f"/fhir/R4/DiagnosticReport/consult-{case_id}", headers=org.headers()).json()
    forms = {f["title"]: f["url"] for f in report["presentedForm"]}
    assert forms["Referral letter to Maple Street Family Medicine"] == url
    assert forms["Consult note 1"] == f"/v1/cases/{case_id}/consult-note.pdf?number=1"

    # the letter, read by the organization's intake system (the referring practice's channel)
    r = client.get(url, headers=org.headers("intake"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["cache-control"] == "private, no-store"
    text = _pdf_text(r.content)
    for expected in (
        "Teledermatology referral letter",
        "Maple Street Family Medicine",
        "Dr. Ada Okafor",
        "NPI 1234567893",
        "referrals@maplestreet.example",
        "Is this acne or rosacea",  # the question
        "Urgency tier",  # the triage
        "L70.0",  # the diagnosis code
        DIAGNOSIS["assessment"][:30],
        "tretinoin",  # the drug
        "Dr. Default",  # the signer
        "licensed in US-CA",
    ):
        assert expected in text, expected
    assert ("consult.referral_letter.pdf", "ok") in audit_actions(sessions, case_id)

    # the dermatologist may read it too; the latest note is the default
    assert (
        client.get(
            f"/v1/cases/{case_id}/referral-letter.pdf", headers=org.headers("dermatologist")
        ).status_code
        == 200
    )


def test_the_letter_keeps_to_the_organization_and_to_referred_cases(client, org, other_org, sessions):
    case_id = _released_referral(client, org)
    for role in ("intake", "dermatologist"):
        r = client.get(f"/v1/cases/{case_id}/referral-letter.pdf", headers=other_org.headers(role))
        assert r.status_code == 404, r.text
    assert ("consult.referral_letter.pdf", "not_found") in audit_actions(sessions, case_id)
    assert (
        client.get(f"/v1/cases/{case_id}/referral-letter.pdf?number=2", headers=org.headers()).status_code
        == 404
    )

    # a patient's own case has a note but no letter, and no letter event
    r = _submit(client, org, {"role": "patient"})
    patient_case = r.json()["id"]
    assert claim(client, org, patient_case).status_code == 200
    derm = org.headers("dermatologist")
    r = client.post(f"/v1/cases/{patient_case}/diagnosis", json={**DIAGNOSIS, "draft": True}, headers=derm)
    assert r.status_code == 201, r.text
    r = client.post(f"/v1/cases/{patient_case}/consult-note", json={"confirm": True}, headers=derm)
    assert r.status_code == 201, r.text
    assert types.REFERRAL_LETTER_READY not in event_types(sessions, patient_case)
    assert "referral_letter_url" not in last_event(sessions, patient_case).payload
    r = client.get(f"/v1/cases/{patient_case}/referral-letter.pdf", headers=org.headers())
    assert r.status_code == 404
    assert "clinician" in r.json()["error"]["fix"]


def test_a_clinician_without_a_practice_is_told_what_to_add(client, org):
    r = _submit(client, org, {"role": "clinician", "name": "Dr. X", "contact": "x@example.org"})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["field"].startswith("submitted_by")
    assert "practice" in json.dumps(error)
    # a blank practice is no practice either
    assert _submit(client, org, {**REFERRER, "practice": "  "}).status_code == 422


def test_a_caregivers_case_names_the_caregiver_in_its_patient_texts(client, org, sessions):
    r = _submit(client, org, CAREGIVER, photo=unreadable_jpeg())
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["status"] == "awaiting_retake"
    (event,) = _events(sessions, case["id"])
    assert event.event_type == types.CASE_RETAKE_REQUIRED
    head = "For Maria Silva (caring for the patient, daughter): "
    assert event.payload["recipient"] == {
        "kind": "caregiver",
        "name": "Maria Silva",
        "relation": "daughter",
        "addressee": head[:-2],
    }
    instructions = case["triage"]["photos"][0]["quality"]["instructions"]
    assert instructions and event.payload["photos"][0]["instructions"] == [head + i for i in instructions]
    assert [a.startswith(head) for a in event.payload["patient_advice"]] == [True] * len(
        case["triage"]["patient_advice"]
    )
    # the case itself keeps the texts as triage wrote them: the event addresses them
    assert not any(i.startswith("For ") for i in instructions)

    # a question from the dermatologist is addressed to the caregiver too
    r = client.post(
        f"/v1/cases/{case['id']}/photos",
        files=[("photos", ("p.jpg", good_jpeg(5), "image/jpeg"))],
        headers=org.headers(),
    )
    assert r.status_code == 200, r.text
    assert claim(client, org, case["id"]).status_code == 200
    r = client.post(
        f"/v1/cases/{case['id']}/messages",
        json={"body": "Does the spot itch at night?", "question": True},
        headers=org.headers("dermatologist"),
    )
    assert r.status_code == 201, r.text
    asked = last_event(sessions, case["id"])
    assert asked.event_type == types.CASE_QUESTION_ASKED
    assert asked.payload["body"] == head + "Does the spot itch at night?"


def test_addressing_rules():
    assert recipients.address("Take it again.", {"role": "patient", "name": "P"}) == "Take it again."
    assert recipients.address("x", {"role": "caregiver"}) == "x"  # no name, nobody to name
    assert (
        recipients.address("x", {"role": "caregiver", "name": " Lu "}) == "For Lu (caring for the patient): x"
    )
    assert recipients.addressed({"recipient": {"kind": "referring_practice"}, "body": "b"}, CAREGIVER) == {
        "recipient": {"kind": "referring_practice"},
        "body": "b",
    }
    assert recipients.addressed({"body": "b"}, {"role": "clinician", "practice": "P"}) == {
        "body": "b",
        "recipient": {"kind": "patient"},
    }

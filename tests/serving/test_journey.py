"""One whole journey through the HTTP API, as the intake system and a dermatologist live it, with the
organization's webhook pointing at a real local receiver:

intake -> triage -> queue -> claim -> retake asked -> new photos -> queued again -> claim -> diagnosis
-> prescription -> follow-up scheduled -> follow-up photos -> claim -> diagnosis confirmed -> closed,
then a renewal request through the queue, approved.

Every patient-facing event must arrive signed (the receiver checks each signature), in order per
case, once per event id, and match what the API did."""

from __future__ import annotations

import json
import uuid

from consults_support import DIAGNOSIS, PRESCRIPTION, QUESTIONNAIRE, follow_up_body
from factories import good_jpeg
from sqlalchemy import select
from webhook_receiver import webhook_receiver_fixture  # noqa: F401 - the webhook_receiver fixture

from serving.db import transaction
from serving.events import types
from serving.events.models import OutboxEvent
from serving.worker import deliver_due


def photos(seed: int):
    return [("photos", (f"photo-{seed}.jpg", good_jpeg(seed=seed), "image/jpeg"))]


def test_the_whole_journey(client, sessions, org, webhook_receiver):
    webhook_receiver.connect(org.org_id)
    intake, derm = org.headers("intake"), org.headers("dermatologist")

    # intake: the case is triaged at once and enters the queue
    r = client.post(
        "/v1/cases",
        data={"questionnaire": json.dumps(QUESTIONNAIRE)},
        files=photos(1),
        headers=org.headers("intake", **{"Idempotency-Key": str(uuid.uuid4())}),
    )
    assert r.status_code == 201, r.text
    case = r.json()
    case_id = case["id"]
    assert case["status"] == "queued" and case["triage"]["tier"]
    queue = client.get("/v1/queue", headers=derm).json()
    assert [item["case_id"] for item in queue["items"]] == [case_id]

    # claim the top of the queue; the photo is not good enough to judge: a retake is asked
    r = client.post("/v1/queue/claim", headers=derm)
    assert r.status_code == 200 and r.json()["case"]["id"] == case_id
    retake = {
        "instructions": "Please take the photo closer, in daylight, with the whole spot in view.",
        "reasons": ["too far", "shadow"],
        "photo_ids": [case["photos"][0]["id"]],
    }
    r = client.post(f"/v1/cases/{case_id}/retake-request", json=retake, headers=derm)
    assert r.status_code == 201 and r.json()["case"]["status"] == "awaiting_patient"

    # new photos: the same case, the next batch, queued again
    r = client.post(f"/v1/cases/{case_id}/photos", files=photos(2), headers=intake)
    assert r.status_code == 200 and r.json()["status"] == "queued"
    assert r.status_code == 200 and [p["batch"] for p in r.json()["photos"]] == [1, 2]

    # claim, diagnose, prescribe, schedule the follow-up
    assert client.post("/v1/queue/claim", headers=derm).json()["case"]["id"] == case_id
    r = client.post(f"/v1/cases/{case_id}/diagnosis", json=DIAGNOSIS, headers=derm)
    assert r.status_code == 201 and r.json()["case"]["status"] == "diagnosed"
    r = client.post(f"/v1/cases/{case_id}/prescriptions", json=PRESCRIPTION, headers=derm)
    assert r.status_code == 201, r.text
    prescription_id = r.json()["prescription"]["id"]
    r = client.post(f"/v1/cases/{case_id}/follow-ups", json=follow_up_body(days=56), headers=derm)
    assert r.status_code == 201 and r.json()["case"]["status"] == "follow_up_scheduled"

    # the follow-up photos join the case and return it to the queue
    r = client.post(f"/v1/cases/{case_id}/photos", files=photos(3), headers=intake)
    assert r.status_code == 200 and r.json()["status"] == "queued"
    assert [p["batch"] for p in r.json()["photos"]] == [1, 2, 3]

    # claim, confirm the diagnosis, close
    assert client.post("/v1/queue/claim", headers=derm).json()["case"]["id"] == case_id
    confirmed = dict(DIAGNOSIS, certainty="confirmed", patient_plan="Keep using the cream twice a week.")
    r = client.post(f"/v1/cases/{case_id}/diagnosis", json=confirmed, headers=derm)
    assert r.status_code == 201, r.text
    r = client.post(
        f"/v1/cases/{case_id}/close", json={"reason": "Improved; maintenance plan given."}, headers=derm
    )
    assert r.status_code == 200 and r.json()["case"]["status"] == "closed"

    # later: the patient asks for more cream; the renewal waits in the queue; it is approved
    r = client.post(
        f"/v1/prescriptions/{prescription_id}/renewal-requests",
        json={"note": "Almost out."},
        headers=org.headers("intake", **{"Idempotency-Key": str(uuid.uuid4())}),
    )
    assert r.status_code == 201, r.text
    renewal_id = r.json()["id"]
    queue = client.get("/v1/queue", headers=derm).json()
    assert [item["id"] for item in queue["renewals"]] == [renewal_id]
    r = client.post(f"/v1/renewal-requests/{renewal_id}/decision", json={"decision": "approve"}, headers=derm)
    assert r.status_code == 200 and r.json()["prescription"]["renews_id"] == prescription_id

    consult = client.get(f"/v1/cases/{case_id}/consult", headers=intake).json()
    assert [(d["code"], d["certainty"]) for d in consult["diagnoses"]] == [
        ("L70.0", "provisional"),
        ("L70.0", "confirmed"),
    ]
    assert [f["status"] for f in consult["follow_ups"]] == ["received"]
    assert consult["follow_ups"][0]["received_batch"] == 3

    # the delivery pass: every patient-facing event of the case arrives signed, in order, once each
    expected = [
        types.CASE_RETAKE_REQUIRED,
        types.CASE_DIAGNOSED,
        types.PRESCRIPTION_ISSUED,
        types.FOLLOW_UP_SCHEDULED,
        types.CASE_DIAGNOSED,
        types.CASE_CLOSED,
        types.RENEWAL_DECIDED,
    ]
    with transaction(sessions) as session:
        written = list(
            session.scalars(
                select(OutboxEvent).where(OutboxEvent.case_id == case_id).order_by(OutboxEvent.sequence)
            )
        )
    assert [e.event_type for e in written] == expected
    deliver_due(sessions)
    arrived = [
        e for e in webhook_receiver.wait_for(len(expected), org_id=org.org_id) if e["case_id"] == case_id
    ]
    assert [e["type"] for e in arrived] == expected
    assert [e["id"] for e in arrived] == [e.id for e in written]
    assert [e["sequence"] for e in arrived] == sorted(e["sequence"] for e in arrived)
    deliveries = webhook_receiver.deliveries(org.org_id)
    assert deliveries and all(d.signature_valid for d in deliveries)

    retake_event, diagnosed_event, rx_event, follow_up_event, confirmed_event, closed_event, renewal_event = (
        arrived
    )
    assert retake_event["data"]["instructions"] == retake["instructions"]
    assert (
        diagnosed_event["data"]["code"] == "L70.0" and diagnosed_event["data"]["certainty"] == "provisional"
    )
    assert rx_event["data"]["prescription_id"] == prescription_id
    assert follow_up_event["data"]["follow_up_id"] == consult["follow_ups"][0]["id"]
    assert confirmed_event["data"]["certainty"] == "confirmed"
    assert closed_event["data"]["reason"].startswith("Improved")
    assert renewal_event["data"]["decision"] == "approved"

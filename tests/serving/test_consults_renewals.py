"""Renewal requests: from the intake system, idempotent, a queue item of their own with their own due
time, decided by a dermatologist licensed in the patient's jurisdiction."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from conftest import make_dermatologist
from consults_support import PRESCRIPTION, bearer, diagnosed, event_types, last_event
from sqlalchemy import func, select

from serving.consults.models import Prescription, RenewalRequest
from serving.db import transaction
from serving.events import types


def prescribed(client, org) -> tuple[str, str]:
    case_id = diagnosed(client, org)
    r = client.post(
        f"/v1/cases/{case_id}/prescriptions", json=PRESCRIPTION, headers=org.headers("dermatologist")
    )
    assert r.status_code == 201, r.text
    return case_id, r.json()["prescription"]["id"]


def ask(client, org, prescription_id, key=None, note="Running out next week."):
    headers = org.headers("intake", **({"Idempotency-Key": key} if key else {}))
    return client.post(
        f"/v1/prescriptions/{prescription_id}/renewal-requests", json={"note": note}, headers=headers
    )


def count_requests(sessions, prescription_id) -> int:
    with transaction(sessions) as session:
        return session.scalar(
            select(func.count())
            .select_from(RenewalRequest)
            .where(RenewalRequest.prescription_id == prescription_id)
        )


def test_renewal_request_is_idempotent_and_due_like_a_routine_case(client, org, sessions):
    case_id, prescription_id = prescribed(client, org)
    key = str(uuid.uuid4())
    first = ask(client, org, prescription_id, key=key)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["kind"], body["status"], body["case_id"]) == ("renewal", "pending", case_id)
    due = datetime.fromisoformat(body["due_at"]) - datetime.fromisoformat(body["requested_at"])
    assert due == timedelta(hours=48)  # the organization's ROUTINE review time

    again = ask(client, org, prescription_id, key=key)
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    changed = ask(client, org, prescription_id, key=key, note="something else")
    assert changed.status_code == 422 and changed.json()["error"]["field"] == "Idempotency-Key"
    second = ask(client, org, prescription_id, key=str(uuid.uuid4()))
    assert second.status_code == 409 and second.json()["error"]["code"] == "renewal_pending"
    assert count_requests(sessions, prescription_id) == 1
    assert event_types(sessions, case_id)[-1] == types.PRESCRIPTION_ISSUED  # no event for the request itself

    pending = client.get("/v1/renewal-requests", headers=org.headers("dermatologist")).json()
    assert body["id"] in [p["id"] for p in pending]


def test_approval_writes_a_new_prescription_that_renews_the_old(client, org, sessions):
    case_id, prescription_id = prescribed(client, org)
    request_id = ask(client, org, prescription_id).json()["id"]
    r = client.post(
        f"/v1/renewal-requests/{request_id}/decision",
        json={"decision": "approve", "refills": 0},
        headers=org.headers("dermatologist"),
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["renewal_request"]["status"] == "approved"
    renewed = out["prescription"]
    assert renewed["renews_id"] == prescription_id and renewed["refills"] == 0
    assert (renewed["rxcui"], renewed["strength"], renewed["quantity"]) == ("10753", "0.05%", 45)
    assert out["renewal_request"]["new_prescription_id"] == renewed["id"]
    event = last_event(sessions, case_id)
    assert event.event_type == types.RENEWAL_DECIDED
    assert event.payload["decision"] == "approved"
    assert event.payload["new_prescription"]["prescription_id"] == renewed["id"]

    again = client.post(
        f"/v1/renewal-requests/{request_id}/decision",
        json={"decision": "decline", "reason": "no"},
        headers=org.headers("dermatologist"),
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "renewal_already_decided"
    assert request_id not in [
        p["id"] for p in client.get("/v1/renewal-requests", headers=org.headers("admin")).json()
    ]
    consult = client.get(f"/v1/cases/{case_id}/consult", headers=org.headers()).json()
    assert [p["id"] for p in consult["prescriptions"]] == [prescription_id, renewed["id"]]
    assert consult["renewal_requests"][0]["status"] == "approved"


def test_decline_needs_a_reason_and_creates_nothing(client, org, sessions):
    case_id, prescription_id = prescribed(client, org)
    request_id = ask(client, org, prescription_id).json()["id"]
    r = client.post(
        f"/v1/renewal-requests/{request_id}/decision",
        json={"decision": "decline"},
        headers=org.headers("dermatologist"),
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "reason"
    r = client.post(
        f"/v1/renewal-requests/{request_id}/decision",
        json={"decision": "decline", "reason": "Please book a visit: this needs a check-up first."},
        headers=org.headers("dermatologist"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["renewal_request"]["status"] == "declined" and r.json()["prescription"] is None
    assert last_event(sessions, case_id).payload["new_prescription"] is None
    with transaction(sessions) as session:
        assert (
            session.scalar(
                select(func.count()).select_from(Prescription).where(Prescription.case_id == case_id)
            )
            == 1
        )


def test_who_may_ask_and_decide(client, org, other_org, sessions):
    case_id, prescription_id = prescribed(client, org)
    r = client.post(
        f"/v1/prescriptions/{prescription_id}/renewal-requests", json={}, headers=org.headers("dermatologist")
    )
    assert r.status_code == 403
    assert ask(client, other_org, prescription_id).status_code == 404
    assert ask(client, org, str(uuid.uuid4())).status_code == 404
    r = client.post(
        f"/v1/prescriptions/{prescription_id}/renewal-requests",
        json={"note": "x"},
        headers=org.headers("intake", **{"Idempotency-Key": " "}),
    )
    assert r.status_code == 400
    assert count_requests(sessions, prescription_id) == 0

    request_id = ask(client, org, prescription_id).json()["id"]
    decision = {"decision": "approve"}
    url = f"/v1/renewal-requests/{request_id}/decision"
    assert client.post(url, json=decision, headers=org.headers("intake")).status_code == 403
    assert client.post(url, json=decision, headers=org.headers("admin")).status_code == 403
    assert client.post(url, json=decision, headers=other_org.headers("dermatologist")).status_code == 404
    texan = make_dermatologist(sessions, org.org_id, jurisdictions=("US-TX",))
    r = client.post(url, json=decision, headers=bearer(texan))
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_licensed"
    assert request_id not in [
        p["id"] for p in client.get("/v1/renewal-requests", headers=bearer(texan)).json()
    ]
    r = client.post(url, json={"decision": "maybe"}, headers=org.headers("dermatologist"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "decision"
    with transaction(sessions) as session:
        assert session.get(RenewalRequest, request_id).status == "pending"

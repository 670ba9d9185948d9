"""Helpers for the consult tests: cases made through the intake API and claimed through the queue API,
and what the database holds about them."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from factories import good_jpeg
from sqlalchemy import func, select

from serving.audit import AuditEvent
from serving.cases.models import Case
from serving.consults.models import Diagnosis, Disposition, FollowUp, Message, Prescription, RenewalRequest
from serving.db import transaction, utcnow
from serving.events.models import OutboxEvent

QUESTIONNAIRE = {
    "jurisdiction": "US-CA",
    "age": 34,
    "sex": "female",
    "body_site": "face",
    "itch": False,
    "duration_days": 200,
    "fitzpatrick": 3,
}

DIAGNOSIS = {
    "code": "L70.0",
    "assessment": "Comedones and inflammatory papules on the cheeks and forehead.",
    "patient_plan": "Use the gel every evening; expect improvement in 8 to 12 weeks.",
}
PRESCRIPTION = {
    "rxcui": "10753",
    "form": "cream",
    "strength": "0.05%",
    "directions": "Apply a pea-sized amount to the face at bedtime.",
    "quantity": 45,
    "refills": 2,
    "pharmacy_note": "Generic is fine.",
}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def submit(client, org, *, questionnaire=None, photos=None) -> dict:
    photos = photos or [("lesion.jpg", good_jpeg())]
    r = client.post(
        "/v1/cases",
        data={"questionnaire": json.dumps(questionnaire or QUESTIONNAIRE)},
        files=[("photos", (name, data, "image/jpeg")) for name, data in photos],
        headers=org.headers("intake", **{"Idempotency-Key": str(uuid.uuid4())}),
    )
    assert r.status_code == 201, r.text
    return r.json()


def send_photo(client, org, case_id: str, photo: bytes) -> dict:
    """More photos for a case through the intake API (a retake or a follow-up): the case as returned."""
    r = client.post(
        f"/v1/cases/{case_id}/photos",
        files=[("photos", ("p.jpg", photo, "image/jpeg"))],
        headers=org.headers(),
    )
    assert r.status_code == 200, r.text
    return r.json()


def claim(client, org, case_id: str, key: str | None = None):
    headers = bearer(key) if key else org.headers("dermatologist")
    return client.post("/v1/queue/claim", json={"case_id": case_id}, headers=headers)


def in_review(client, org, **kwargs) -> str:
    case = submit(client, org, **kwargs)
    assert case["status"] == "queued", case["status"]
    r = claim(client, org, case["id"])
    assert r.status_code == 200, r.text
    return case["id"]


def diagnosed(client, org) -> str:
    case_id = in_review(client, org)
    r = client.post(f"/v1/cases/{case_id}/diagnosis", json=DIAGNOSIS, headers=org.headers("dermatologist"))
    assert r.status_code == 201, r.text
    return case_id


def follow_up_body(days: float = 28) -> dict:
    return {
        "due_at": (utcnow() + timedelta(days=days)).isoformat(),
        "instructions": "Photograph the same area in daylight.",
    }


def status_of(sessions, case_id: str) -> str:
    with transaction(sessions) as session:
        return session.get(Case, case_id).status


def rows(sessions, case_id: str) -> dict[str, int]:
    """How many consult rows, events and audit rows the case has."""
    models = {
        "diagnoses": Diagnosis,
        "prescriptions": Prescription,
        "renewal_requests": RenewalRequest,
        "follow_ups": FollowUp,
        "messages": Message,
        "dispositions": Disposition,
        "events": OutboxEvent,
    }
    with transaction(sessions) as session:
        out = {
            name: session.scalar(select(func.count()).select_from(m).where(m.case_id == case_id))
            for name, m in models.items()
        }
        out["status"] = session.get(Case, case_id).status
    return out


def event_types(sessions, case_id: str) -> list[str]:
    with transaction(sessions) as session:
        return list(
            session.scalars(
                select(OutboxEvent.event_type)
                .where(OutboxEvent.case_id == case_id)
                .order_by(OutboxEvent.sequence)
            )
        )


def last_event(sessions, case_id: str) -> OutboxEvent:
    with transaction(sessions) as session:
        return session.scalar(
            select(OutboxEvent)
            .where(OutboxEvent.case_id == case_id)
            .order_by(OutboxEvent.sequence.desc())
            .limit(1)
        )


def audit_actions(sessions, case_id: str) -> list[tuple[str, str]]:
    with transaction(sessions) as session:
        return [
            (e.action, e.outcome)
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.resource_id == case_id).order_by(AuditEvent.id)
            )
        ]

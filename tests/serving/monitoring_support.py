"""Cases for the monitoring tests, made through the HTTP API: known tiers at submission (the red-flag
rules: the tests run without the urgency model), known photos (a good one or a blurred one the quality
gate sends back), reviewed or not, with a dermatologist's retake request, diagnosis or pathology.
The urgency model's readings, which the rules-only test service cannot make, are written onto the
photos afterwards (``read_as``)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date

from consults_support import QUESTIONNAIRE, claim
from factories import blurred_jpeg, good_jpeg
from sqlalchemy import update

from serving.cases.models import Case, Photo
from serving.db import transaction

#: answers whose red flags give each tier (``model/triage/red_flags.py``)
ANSWERS = {
    "ROUTINE": QUESTIONNAIRE,
    "PRIORITY": {**QUESTIONNAIRE, "changed": True, "body_site": "arm"},
    "URGENT": {**QUESTIONNAIRE, "bleeding": True, "grew": True, "body_site": "back", "age": 61},
}
DIAGNOSIS_TEXT = {"assessment": "Seen on the photos.", "patient_plan": "As discussed."}


@dataclass(frozen=True)
class Spec:
    """One case to make: its tier at submission, its photo, what the dermatologist does."""

    tier: str
    photo: str = "good"  # good | blurred
    reviewed: bool = False
    dermatologist_retake: bool = False
    diagnoses: tuple[tuple[str, str], ...] = ()  # (code, certainty), in order
    pathology: str | None = None
    jurisdiction: str = "US-CA"
    answers: tuple[tuple[str, object], ...] = ()


def submit(client, org, spec: Spec, seed: int) -> dict:
    questionnaire = {**ANSWERS[spec.tier], "jurisdiction": spec.jurisdiction, **dict(spec.answers)}
    photo = good_jpeg(seed) if spec.photo == "good" else blurred_jpeg(seed)
    r = client.post(
        "/v1/cases",
        data={"questionnaire": json.dumps(questionnaire)},
        files=[("photos", ("lesion.jpg", photo, "image/jpeg"))],
        headers=org.headers("intake", **{"Idempotency-Key": str(uuid.uuid4())}),
    )
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["triage"]["tier"] == spec.tier, (spec, case["triage"])
    return case


def work(client, org, case_id: str, spec: Spec) -> None:
    """What the dermatologist does with the case (claim, retake request, diagnoses, pathology)."""
    if not (spec.reviewed or spec.dermatologist_retake or spec.diagnoses or spec.pathology):
        return
    derm = org.headers("dermatologist")
    r = claim(client, org, case_id)
    assert r.status_code == 200, r.text
    if spec.dermatologist_retake:
        r = client.post(
            f"/v1/cases/{case_id}/retake-request", json={"instructions": "Closer, please."}, headers=derm
        )
        assert r.status_code == 201, r.text
    for code, certainty in spec.diagnoses:
        body = {"code": code, "certainty": certainty, **DIAGNOSIS_TEXT}
        r = client.post(f"/v1/cases/{case_id}/diagnosis", json=body, headers=derm)
        assert r.status_code == 201, r.text
    if spec.pathology:
        body = {"icd10": spec.pathology, "reported_on": date.today().isoformat(), "report": "Excision."}
        r = client.post(f"/v1/cases/{case_id}/pathology", json=body, headers=derm)
        assert r.status_code == 201, r.text


def make(client, org, spec: Spec, seed: int = 0) -> str:
    case = submit(client, org, spec, seed)
    work(client, org, case["id"], spec)
    return case["id"]


def read_as(sessions, case_id: str, malignancy: float, model: str = "urgency-test") -> None:
    """Record an urgency model reading on the case's submitted photos, as a loaded model would have."""
    reading = {"model": model, "malignancy": malignancy, "diagnosis": {}}
    with transaction(sessions) as session:
        session.execute(
            update(Photo).where(Photo.case_id == case_id, Photo.batch == 1).values(predictions=reading)
        )


def retriaged(sessions, case_id: str, tier: str) -> None:
    """The case's current tier changed later (a retake or follow-up triaged it again)."""
    with transaction(sessions) as session:
        session.execute(update(Case).where(Case.id == case_id).values(tier=tier))

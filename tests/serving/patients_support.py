"""Helpers for the patient tests: cases of a patient sent through the intake API."""

from __future__ import annotations

import json
import uuid

from consults_support import QUESTIONNAIRE
from factories import good_jpeg


def send(client, org, patient: dict | None, *, seed: int = 0, key: str | None = None, **answers):
    """POST /v1/cases with ``patient`` (a dict, sent as the JSON part) and the answers; the response."""
    form = {"questionnaire": json.dumps({**QUESTIONNAIRE, **answers})}
    if patient is not None:
        form["patient"] = json.dumps(patient)
    return client.post(
        "/v1/cases",
        data=form,
        files=[("photos", ("lesion.jpg", good_jpeg(seed), "image/jpeg"))],
        headers=org.headers("intake", **{"Idempotency-Key": key or str(uuid.uuid4())}),
    )


def case_of(client, org, patient: dict | None, **kwargs) -> dict:
    r = send(client, org, patient, **kwargs)
    assert r.status_code == 201, r.text
    return r.json()

"""Pathology results and the case's outcome label: recorded after the consult (closed and referred cases
included), refused before any review, scoped to the organization and the dermatologist's licences, told
to the intake system once; the label prefers the pathology over the diagnosis and maps every code of
the catalogue to a model class or, on purpose, to "outside"."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import make_dermatologist
from consults_support import (
    DIAGNOSIS,
    audit_actions,
    bearer,
    claim,
    diagnosed,
    event_types,
    in_review,
    last_event,
    status_of,
    submit,
)
from sqlalchemy import func, select, update

from model import outcome
from model.contract import ModelContract
from serving.cases.models import Case
from serving.consults import diagnoses
from serving.consults.models import PathologyResult
from serving.db import transaction, utcnow
from serving.events import types

ARTIFACTS = Path(outcome.__file__).with_name("artifacts")


def _today() -> str:
    return utcnow().date().isoformat()


def _days_from_today(days: int) -> str:
    return (utcnow() + timedelta(days=days)).date().isoformat()


def _pathology(code: str = "C44.91", reported_on: str | None = None, **extra) -> dict:
    body = {"icd10": code, "reported_on": reported_on or _today(), "report": "Nodular basal cell carcinoma."}
    return {**body, **extra}


def _post(client, case_id: str, body: dict, headers):
    return client.post(f"/v1/cases/{case_id}/pathology", json=body, headers=headers)


def _count(sessions, case_id: str) -> int:
    with transaction(sessions) as session:
        return session.scalar(
            select(func.count()).select_from(PathologyResult).where(PathologyResult.case_id == case_id)
        )


def _closed(client, org) -> str:
    case_id = diagnosed(client, org)
    r = client.post(
        f"/v1/cases/{case_id}/close", json={"reason": "Biopsy sent."}, headers=org.headers("dermatologist")
    )
    assert r.status_code == 200, r.text
    return case_id


# -- the API ----------------------------------------------------------------------------------


def test_pathology_after_close_is_recorded_audited_and_told_once(client, org, sessions):
    case_id = _closed(client, org)
    before = event_types(sessions, case_id)
    r = _post(client, case_id, _pathology("c4491"), org.headers("dermatologist"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["case"] == {"id": case_id, "status": "closed"}
    assert body["pathology"]["code"] == "C44.91"
    assert body["pathology"]["title"] == "Basal cell carcinoma of skin, unspecified"
    assert body["pathology"]["reported_on"] == _today()
    assert body["outcome_label"] == {
        "source": "pathology",
        "code": "C44.91",
        "model_class": "BCC",
        "category": "malignant",
        "malignant": True,
        "mapping_version": outcome.MAPPING_VERSION,
    }
    assert status_of(sessions, case_id) == "closed"
    assert event_types(sessions, case_id) == [*before, types.CASE_PATHOLOGY_RECORDED]
    event = last_event(sessions, case_id)
    assert event.payload == {
        "pathology_id": body["pathology"]["id"],
        "code": "C44.91",
        "title": "Basal cell carcinoma of skin, unspecified",
        "reported_on": _today(),
        "recipient": {"kind": "patient"},
    }
    assert ("consult.pathology.create", "ok") in audit_actions(sessions, case_id)

    # the case as a dermatologist reads it shows the results and the label; the intake system's does not
    case = client.get(f"/v1/cases/{case_id}", headers=org.headers("dermatologist")).json()
    assert [p["code"] for p in case["pathology"]] == ["C44.91"]
    assert case["outcome_label"]["source"] == "pathology"
    intake_view = client.get(f"/v1/cases/{case_id}", headers=org.headers("intake")).json()
    assert "pathology" not in intake_view and "outcome_label" not in intake_view


def test_pathology_after_referral_by_an_admin(client, org, sessions):
    case_id = in_review(client, org)
    r = client.post(
        f"/v1/cases/{case_id}/referral",
        json={"reason": "Excision.", "urgency": "soon"},
        headers=org.headers("dermatologist"),
    )
    assert r.status_code == 201, r.text
    r = _post(client, case_id, _pathology("D03.9"), org.headers("admin"))
    assert r.status_code == 201, r.text
    assert r.json()["case"]["status"] == "referred_in_person"
    assert r.json()["outcome_label"]["model_class"] == "MEL"


def test_refused_before_any_review_and_for_an_intake_key(client, org, sessions):
    queued = submit(client, org)["id"]
    r = _post(client, queued, _pathology(), org.headers("dermatologist"))
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "illegal_state" and "'queued'" in r.json()["error"]["message"]
    assert r.json()["error"]["field"] == "status"
    assert _post(client, queued, _pathology(), org.headers("intake")).status_code == 403
    assert _count(sessions, queued) == 0

    # reviewed once, back in the queue: the review has started, a result is taken
    r = claim(client, org, queued)
    assert r.status_code == 200, r.text
    r = client.post(f"/v1/cases/{queued}/release", json={}, headers=org.headers("dermatologist"))
    assert r.status_code == 200, r.text
    assert status_of(sessions, queued) == "queued"
    # no lease needed: another dermatologist of the organization records it
    other = make_dermatologist(sessions, org.org_id)
    assert _post(client, queued, _pathology(), bearer(other)).status_code == 201
    assert _count(sessions, queued) == 1


def test_code_and_dates_are_checked(client, org, sessions):
    case_id = _closed(client, org)
    headers = org.headers("dermatologist")
    r = _post(client, case_id, _pathology("Z99.99"), headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "icd10"
    assert r.json()["error"]["code"] == "unknown_diagnosis_code" and "'report'" in r.json()["error"]["fix"]
    r = _post(client, case_id, _pathology(reported_on=_days_from_today(2)), headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "reported_on", r.text
    assert "future" in r.json()["error"]["message"]
    r = _post(client, case_id, _pathology(reported_on=_days_from_today(-2)), headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "reported_on", r.text
    assert "before the case" in r.json()["error"]["message"]
    for bad in ("2026-13-01", "1 May 2026", 20261101):
        r = _post(client, case_id, _pathology(reported_on=None) | {"reported_on": bad}, headers)
        assert r.status_code == 422, (bad, r.text)
    r = _post(client, case_id, _pathology(report="x" * 5001), headers)
    assert r.status_code == 422
    assert _count(sessions, case_id) == 0
    assert types.CASE_PATHOLOGY_RECORDED not in event_types(sessions, case_id)


def test_other_organization_and_unlicensed_dermatologist_get_404(client, org, other_org, sessions):
    case_id = _closed(client, org)
    r = _post(client, case_id, _pathology(), other_org.headers("dermatologist"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "case_not_found"
    assert _post(client, case_id, _pathology(), other_org.headers("admin")).status_code == 404
    texan = make_dermatologist(sessions, org.org_id, jurisdictions=("US-TX",))
    assert _post(client, case_id, _pathology(), bearer(texan)).status_code == 404
    assert client.get(f"/v1/cases/{case_id}", headers=bearer(texan)).status_code == 404
    assert _count(sessions, case_id) == 0
    assert ("consult.pathology.create", "not_found") in audit_actions(sessions, case_id)


def test_outcome_label_prefers_the_latest_pathology_over_the_diagnosis(client, org, sessions):
    case_id = in_review(client, org)
    headers = org.headers("dermatologist")

    def label():
        return client.get(f"/v1/cases/{case_id}", headers=headers).json()["outcome_label"]

    assert label() is None
    # a provisional diagnosis is a first impression: no label yet
    r = client.post(f"/v1/cases/{case_id}/diagnosis", json=dict(DIAGNOSIS, code="D22.9"), headers=headers)
    assert r.status_code == 201, r.text
    assert label() is None
    confirmed = dict(DIAGNOSIS, code="L82.1", certainty="confirmed")
    assert client.post(f"/v1/cases/{case_id}/diagnosis", json=confirmed, headers=headers).status_code == 201
    assert label() == {
        "source": "diagnosis",
        "code": "L82.1",
        "model_class": "SEK",
        "category": "not_malignant",
        "malignant": False,
        "mapping_version": outcome.MAPPING_VERSION,
    }
    # the pathology wins; of several, the latest by report date, whatever the order they were recorded in
    with transaction(sessions) as session:  # the case came a month ago
        session.execute(
            update(Case).where(Case.id == case_id).values(created_at=utcnow() - timedelta(days=30))
        )
    assert _post(client, case_id, _pathology("D22.9"), headers).status_code == 201
    assert label()["code"] == "D22.9" and label()["source"] == "pathology"
    r = _post(client, case_id, _pathology("C43.9", reported_on=_days_from_today(-10)), headers)
    assert r.status_code == 201, r.text
    assert r.json()["outcome_label"]["code"] == "D22.9"
    assert label()["code"] == "D22.9"
    case = client.get(f"/v1/cases/{case_id}", headers=headers).json()
    assert [p["code"] for p in case["pathology"]] == ["C43.9", "D22.9"]
    assert event_types(sessions, case_id).count(types.CASE_PATHOLOGY_RECORDED) == 2


# -- the mapping table ------------------------------------------------------------------------


def test_the_classes_are_the_urgency_models():
    contract = ModelContract.load(ARTIFACTS / "urgency.json")
    assert contract.outputs["diagnosis"].labels == outcome.MODEL_CLASSES
    network = json.loads((ARTIFACTS / "urgency.json").read_text(encoding="utf-8"))["provenance"]["network"]
    assert set(network["malignant"]) == outcome.MALIGNANT_CLASSES
    assert {r.model_class for r in outcome.RULES} - {None} == set(outcome.MODEL_CLASSES)


def test_every_catalogue_code_is_mapped_on_purpose():
    for entry in diagnoses.DIAGNOSES:
        mapped = outcome.map_code(entry.code)  # UnmappedCode when no row matches
        assert (mapped.model_class is None) == (mapped.category is outcome.Category.outside), entry
        assert mapped.model_class in (None, *outcome.MODEL_CLASSES), entry
    # every class is reachable from the catalogue
    reached = {outcome.map_code(d.code).model_class for d in diagnoses.DIAGNOSES}
    assert reached >= set(outcome.MODEL_CLASSES)
    with pytest.raises(outcome.UnmappedCode):
        outcome.map_code("Z12.83")
    # the catalogue's cancer group is mapped by its own rows, never by a chapter-wide "outside" row
    for entry in diagnoses.DIAGNOSES:
        if entry.group == diagnoses.CANCER:
            assert len(outcome.rule_for(entry.code).pattern) > 1, entry


@pytest.mark.parametrize(
    ("codes", "model_class", "category"),
    [
        (("C43.9", "C43.5", "C43.62", "C43.111", "D03.9", "D03.4", "D03.59"), "MEL", "malignant"),
        (
            ("C44.91", "C44.01", "C44.311", "C44.310", "C44.41", "C44.510", "C44.612", "C44.1121"),
            "BCC",
            "malignant",
        ),
        (("C44.92", "C44.02", "C44.321", "C44.42", "C44.520", "C44.622", "C44.82"), "SCC", "malignant"),
        (("D04.9", "D04.5", "D04.39", "D04.111"), "SCC", "malignant"),
        (("L57.0",), "ACK", "not_malignant"),
        (("L82.0", "L82.1"), "SEK", "not_malignant"),
        (("D22.9", "D22.5", "D22.39", "D22.111"), "NEV", "not_malignant"),
    ],
)
def test_each_class_from_real_icd10_codes(codes, model_class, category):
    for code in codes:
        mapped = outcome.map_code(code)
        assert (mapped.model_class, mapped.category.value) == (model_class, category), code
        assert mapped.malignant is (category == "malignant"), code


@pytest.mark.parametrize(
    ("code", "malignant"),
    [
        ("C44.99", True),  # other malignant neoplasm of skin
        ("C44.1391", True),  # sebaceous carcinoma of skin of the right upper eyelid
        ("C44.300", True),  # unspecified malignant neoplasm of skin of the face
        ("C4A.9", True),  # Merkel cell carcinoma
        ("D48.5", None),  # uncertain behaviour (a dysplastic nevus)
        ("D49.2", None),
        ("L57.1", False),  # actinic reticuloid: not an actinic keratosis
        ("L81.4", False),  # lentigo
        ("D23.9", False),  # dermatofibroma
        ("L70.0", False),
        ("B07.9", False),
    ],
)
def test_outside_the_classes(code, malignant):
    mapped = outcome.map_code(code)
    assert mapped.model_class is None and mapped.category is outcome.Category.outside
    assert mapped.malignant is malignant


def test_label_source_and_precedence():
    assert outcome.outcome_label(pathology_code=None, diagnosis_code=None) is None
    from_diagnosis = outcome.outcome_label(pathology_code=None, diagnosis_code="L57.0")
    assert (from_diagnosis.source, from_diagnosis.code, from_diagnosis.model_class) == (
        "diagnosis",
        "L57.0",
        "ACK",
    )
    from_pathology = outcome.outcome_label(pathology_code="C44.92", diagnosis_code="L57.0")
    assert (from_pathology.source, from_pathology.code, from_pathology.model_class) == (
        "pathology",
        "C44.92",
        "SCC",
    )

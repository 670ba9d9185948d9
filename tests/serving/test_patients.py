"""Patients and lesions through the HTTP API: a lesion's photos over time, who may see a patient
(organization and licences), linking a case to a lesion, the patient part of a submission."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import httpx2 as httpx
import pytest
from conftest import make_dermatologist
from consults_support import DIAGNOSIS, QUESTIONNAIRE, bearer, claim
from patients_support import case_of, send
from sqlalchemy import func, select
from test_concurrent_retries import LiveServer

from model.questionnaire import Questionnaire
from serving.app import create_app
from serving.audit import AuditEvent
from serving.cases import intake
from serving.cases.models import Case
from serving.cases.schemas import SubmittedBy
from serving.db import transaction
from serving.patients.models import Lesion, Patient

ALICE = {"external_id": "emr-1001", "birth_year": 1969, "sex": "female", "display_name": "Alice Example"}


def test_two_cases_six_months_apart_make_one_lesion_timeline(client, org, monkeypatch):
    first_at = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    second_at = first_at + timedelta(days=182)
    monkeypatch.setattr(intake, "utcnow", lambda: first_at)
    first = case_of(client, org, ALICE, seed=1, lesion_label="Mole left shoulder", body_site="back")
    monkeypatch.setattr(intake, "utcnow", lambda: second_at)
    # the same lesion, named with other case and spacing; the patient's other fields as first sent
    second = case_of(client, org, {"external_id": "emr-1001"}, seed=2, lesion_label=" mole  LEFT shoulder ")
    monkeypatch.undo()
    assert first["patient_id"] == second["patient_id"] and first["lesion_id"] == second["lesion_id"]
    assert claim(client, org, first["id"]).status_code == 200
    r = client.post(
        f"/v1/cases/{first['id']}/diagnosis", json=DIAGNOSIS, headers=org.headers("dermatologist")
    )
    assert r.status_code == 201, r.text

    r = client.get(f"/v1/patients/{first['patient_id']}", headers=org.headers("dermatologist"))
    assert r.status_code == 200, r.text
    patient = r.json()
    assert {k: patient[k] for k in ALICE} == ALICE
    assert [c["id"] for c in patient["cases"]] == [first["id"], second["id"]]
    assert [d["code"] for d in patient["cases"][0]["diagnoses"]] == [DIAGNOSIS["code"]]
    assert patient["cases"][1]["diagnoses"] == [] and patient["cases"][1]["status"] == "queued"
    (lesion,) = patient["lesions"]
    assert lesion["label"] == "Mole left shoulder" and lesion["body_site"] == "back"
    timeline = lesion["photos"]
    assert [p["id"] for p in timeline] == [first["photos"][0]["id"], second["photos"][0]["id"]]
    assert [datetime.fromisoformat(p["created_at"]) for p in timeline] == [first_at, second_at]
    assert [p["case_id"] for p in timeline] == [first["id"], second["id"]]
    image = client.get(timeline[0]["image_url"], headers=org.headers("dermatologist"))
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert client.get(timeline[1]["thumbnail_url"], headers=org.headers("dermatologist")).status_code == 200

    # the intake system finds its patient by its own id; the look-up is audited by the patient's id
    r = client.get("/v1/patients", params={"external_id": "emr-1001"}, headers=org.headers("intake"))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == patient["id"] and len(r.json()["lesions"][0]["photos"]) == 2
    r = client.get("/v1/patients", params={"external_id": "emr-9999"}, headers=org.headers("admin"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "patient_not_found"


def test_a_case_without_a_patient_has_none(client, org, sessions):
    case = case_of(client, org, None, lesion_label="rash on the arm")
    assert case["patient_id"] is None and case["lesion_id"] is None
    with transaction(sessions) as session:
        lesions = select(func.count()).select_from(Lesion).where(Lesion.organization_id == org.org_id)
        assert session.scalar(lesions) == 0  # a label without a patient names nobody's lesion
        assert session.get(Case, case["id"]).patient_id is None


def test_every_new_endpoint_is_a_404_across_organizations(client, org, other_org, sessions):
    case = case_of(client, org, ALICE, lesion_label="mole")
    patient_id = case["patient_id"]
    for role in ("intake", "dermatologist", "admin"):
        headers = other_org.headers(role)
        assert client.get(f"/v1/patients/{patient_id}", headers=headers).status_code == 404
        r = client.get("/v1/patients", params={"external_id": ALICE["external_id"]}, headers=headers)
        assert r.status_code == 404
    r = client.post(f"/v1/cases/{case['id']}/lesion", json={"label": "x"}, headers=other_org.headers("admin"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "case_not_found"
    r = client.delete(f"/v1/patients/{patient_id}", headers=other_org.headers("admin"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "patient_not_found"
    # the other organization's own patient with the same external id is another patient
    theirs = case_of(client, other_org, ALICE)
    assert theirs["patient_id"] != patient_id
    assert client.get(f"/v1/patients/{patient_id}", headers=org.headers("admin")).status_code == 200
    with transaction(sessions) as session:
        refused = session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.organization_id == other_org.org_id, AuditEvent.outcome == "not_found"
            )
        ).all()
    assert refused.count("patient.read") == 6 and "patient.erase" in refused and "case.lesion.link" in refused


def test_a_dermatologist_sees_a_patient_only_through_cases_in_their_licences(client, org, sessions):
    in_california = case_of(client, org, ALICE, lesion_label="mole", jurisdiction="US-CA")
    patient_id = in_california["patient_id"]
    new_york_only = make_dermatologist(sessions, org.org_id, jurisdictions=("US-NY",))
    assert client.get(f"/v1/patients/{patient_id}", headers=bearer(new_york_only)).status_code == 404
    r = client.get("/v1/patients", params={"external_id": "emr-1001"}, headers=bearer(new_york_only))
    assert r.status_code == 404 and r.json()["error"]["message"] == "no patient with this external_id"
    r = client.post(
        f"/v1/cases/{in_california['id']}/lesion", json={"label": "mole"}, headers=bearer(new_york_only)
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "case_not_found"
    in_new_york = case_of(client, org, ALICE, seed=3, lesion_label="mole", jurisdiction="US-NY")
    r = client.get(f"/v1/patients/{patient_id}", headers=bearer(new_york_only))
    assert r.status_code == 200, r.text
    assert [c["id"] for c in r.json()["cases"]] == [in_new_york["id"]]  # only the case they may see
    assert [p["case_id"] for p in r.json()["lesions"][0]["photos"]] == [in_new_york["id"]]
    everything = client.get(f"/v1/patients/{patient_id}", headers=org.headers("admin")).json()
    assert [c["id"] for c in everything["cases"]] == [in_california["id"], in_new_york["id"]]


def test_a_dermatologist_holding_the_case_links_it_to_a_lesion(client, org, other_org, sessions):
    first = case_of(client, org, ALICE, lesion_label="mole left shoulder")
    later = case_of(client, org, ALICE, seed=4)  # sent without naming the lesion
    assert later["lesion_id"] is None
    link = f"/v1/cases/{later['id']}/lesion"
    body = {"lesion_id": first["lesion_id"]}
    assert client.post(link, json=body, headers=org.headers("intake")).status_code == 403
    r = client.post(link, json=body, headers=org.headers("dermatologist"))  # not holding it
    assert r.status_code == 409 and r.json()["error"]["code"] == "lease_required"
    assert claim(client, org, later["id"]).status_code == 200
    r = client.post(
        link, json={"lesion_id": first["lesion_id"], "label": "x"}, headers=org.headers("dermatologist")
    )
    assert r.status_code == 422
    r = client.post(link, json=body, headers=org.headers("dermatologist"))
    assert r.status_code == 200, r.text
    assert r.json()["lesion"]["id"] == first["lesion_id"]
    assert [p["case_id"] for p in r.json()["lesion"]["photos"]] == [first["id"], later["id"]]

    # a new lesion by label (an admin needs no lease); another patient's lesion is not this case's
    r = client.post(
        link, json={"label": "Scar on the knee", "body_site": "leg"}, headers=org.headers("admin")
    )
    assert r.status_code == 200, r.text
    assert (
        r.json()["lesion"]["label"] == "Scar on the knee" and r.json()["lesion"]["id"] != first["lesion_id"]
    )
    bob = case_of(client, org, {"external_id": "emr-2002"}, lesion_label="mole")
    r = client.post(link, json={"lesion_id": bob["lesion_id"]}, headers=org.headers("admin"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "lesion_not_found"
    anonymous = case_of(client, org, None)
    r = client.post(
        f"/v1/cases/{anonymous['id']}/lesion", json={"label": "mole"}, headers=org.headers("admin")
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "case_has_no_patient"
    patient = client.get(f"/v1/patients/{first['patient_id']}", headers=org.headers("admin")).json()
    assert sorted(lesion["label"] for lesion in patient["lesions"]) == [
        "Scar on the knee",
        "mole left shoulder",
    ]


@pytest.mark.parametrize(
    ("patient", "field"),
    [
        ({"birth_year": 1980}, "patient.external_id"),
        ({"external_id": "x" * 129}, "patient.external_id"),
        ({"external_id": "a\u0000b"}, "patient.external_id"),
        ({"external_id": "e-1", "name": "Alice"}, "patient.name"),
        ({"external_id": "e-1", "birth_year": "1980"}, "patient.birth_year"),
        ({"external_id": "e-1", "sex": "yes"}, "patient.sex"),
    ],
)
def test_a_bad_patient_part_is_refused_naming_the_field(client, org, sessions, patient, field):
    r = send(client, org, patient)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field
    with transaction(sessions) as session:
        assert (
            session.scalar(
                select(func.count()).select_from(Patient).where(Patient.organization_id == org.org_id)
            )
            == 0
        )


def test_a_retry_with_another_patient_is_a_reused_key(client, org):
    first = send(client, org, ALICE, key="k-1")
    assert first.status_code == 201
    assert send(client, org, ALICE, key="k-1").json()["id"] == first.json()["id"]
    r = send(client, org, {"external_id": "emr-2002"}, key="k-1")
    assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency_key_reused"
    r = send(client, org, None, key="k-1")
    assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency_key_reused"


def test_concurrent_first_submissions_make_one_patient_and_one_lesion(settings, org, sessions):
    results: list[httpx.Response] = []
    barrier = threading.Barrier(6)

    def submit(base: str, seed: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            barrier.wait()
            results.append(send(http, org, {"external_id": "emr-race"}, seed=seed, lesion_label="mole"))

    with LiveServer(create_app(settings)) as base:
        threads = [threading.Thread(target=submit, args=(base, seed)) for seed in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    assert sorted(r.status_code for r in results) == [201] * 6, [r.text for r in results]
    assert len({r.json()["patient_id"] for r in results}) == 1
    assert len({r.json()["lesion_id"] for r in results}) == 1
    with transaction(sessions) as session:
        assert (
            session.scalar(
                select(func.count()).select_from(Patient).where(Patient.organization_id == org.org_id)
            )
            == 1
        )
        assert (
            session.scalar(
                select(func.count()).select_from(Lesion).where(Lesion.organization_id == org.org_id)
            )
            == 1
        )


def test_lesion_label_and_research_consent_enter_the_fingerprint_only_when_sent() -> None:
    def fp(answers: dict) -> str:
        return intake.fingerprint(Questionnaire.model_validate(answers), SubmittedBy(), [])

    assert fp(QUESTIONNAIRE) == fp({**QUESTIONNAIRE, "consent_research": False})
    assert fp(QUESTIONNAIRE) != fp({**QUESTIONNAIRE, "consent_research": True})
    assert fp(QUESTIONNAIRE) != fp({**QUESTIONNAIRE, "lesion_label": "mole"})

"""The consult, part 1: the catalogues, diagnoses and prescriptions, each needing the lease, scoped to the
organization and the dermatologist's licences, refused with nothing written when wrong."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import make_dermatologist
from consults_support import (
    DIAGNOSIS,
    PRESCRIPTION,
    audit_actions,
    bearer,
    diagnosed,
    follow_up_body,
    in_review,
    last_event,
    rows,
    submit,
)
from sqlalchemy import update

from serving.cases.models import Case
from serving.consults import diagnoses, formulary
from serving.db import transaction, utcnow
from serving.events import types

# -- catalogues -------------------------------------------------------------------------------


def test_catalogue_codes_are_unique_and_well_formed():
    assert len(diagnoses.DIAGNOSES) >= 60
    assert len(formulary.FORMULARY) >= 40
    for d in diagnoses.DIAGNOSES:
        assert diagnoses.normalize_code(d.code) == d.code, d
    for m in formulary.FORMULARY:
        assert m.rxcui.isdigit() and m.products, m
        assert all(p.strengths for p in m.products), m
    assert diagnoses.lookup("l700").title == "Acne vulgaris"
    assert diagnoses.lookup("L99.99") is None
    assert formulary.listed_strength(formulary.lookup("10759").product("cream"), "0.1 %") == "0.1%"


def test_catalogue_search(client, org):
    r = client.get("/v1/catalogue/diagnoses", params={"q": "psoriasis"}, headers=org.headers())
    assert r.status_code == 200
    codes = [d["code"] for d in r.json()]
    assert "L40.0" in codes and all(c.startswith("L40") or c for c in codes)
    r = client.get("/v1/catalogue/diagnoses", params={"q": "C44"}, headers=org.headers("dermatologist"))
    assert [d["code"] for d in r.json()] == ["C44.91", "C44.92"]
    r = client.get("/v1/catalogue/medications", params={"q": "doxycycline"}, headers=org.headers())
    (doxy,) = r.json()
    assert doxy["rxcui"] == "3640" and {p["form"] for p in doxy["products"]} == {"capsule", "tablet"}
    assert (
        client.get("/v1/catalogue/medications", params={"q": "6064"}, headers=org.headers()).json()[0]["name"]
        == "isotretinoin"
    )
    assert client.get("/v1/catalogue/diagnoses").status_code == 401


# -- diagnosis --------------------------------------------------------------------------------


def test_diagnosis_moves_the_case_and_tells_the_patient(client, org, sessions):
    case_id = in_review(client, org)
    r = client.post(f"/v1/cases/{case_id}/diagnosis", json=DIAGNOSIS, headers=org.headers("dermatologist"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["case"] == {"id": case_id, "status": "diagnosed"}
    assert body["diagnosis"]["code"] == "L70.0" and body["diagnosis"]["title"] == "Acne vulgaris"
    assert body["diagnosis"]["certainty"] == "provisional"
    event = last_event(sessions, case_id)
    assert event.event_type == types.CASE_DIAGNOSED
    assert event.payload["patient_plan"] == DIAGNOSIS["patient_plan"]
    assert "assessment" not in event.payload
    assert ("consult.diagnosis.create", "ok") in audit_actions(sessions, case_id)

    # still held: the dermatologist revises it; the history keeps both
    revised = dict(DIAGNOSIS, code="l71.0", certainty="revised", free_text="around the mouth only")
    r = client.post(f"/v1/cases/{case_id}/diagnosis", json=revised, headers=org.headers("dermatologist"))
    assert r.status_code == 201, r.text
    consult = client.get(f"/v1/cases/{case_id}/consult", headers=org.headers()).json()
    assert [d["code"] for d in consult["diagnoses"]] == ["L70.0", "L71.0"]
    assert consult["diagnoses"][1]["free_text"] == "around the mouth only"
    assert ("consult.read", "ok") in audit_actions(sessions, case_id)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code": "X99.9"}, "code"),
        ({"code": ""}, "code"),
        ({"assessment": "   "}, "assessment"),
        ({"patient_plan": None}, "patient_plan"),
        ({"certainty": "maybe"}, "certainty"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_diagnosis_is_refused_with_nothing_written(client, org, sessions, change, field):
    case_id = in_review(client, org)
    before = rows(sessions, case_id)
    r = client.post(
        f"/v1/cases/{case_id}/diagnosis", json=dict(DIAGNOSIS, **change), headers=org.headers("dermatologist")
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["field"] == field
    if change.get("code") == "X99.9":
        assert error["code"] == "unknown_diagnosis_code" and "/v1/catalogue/diagnoses" in error["fix"]
    assert rows(sessions, case_id) == before


def test_diagnosis_needs_the_lease(client, org, sessions):
    queued = submit(client, org)["id"]
    r = client.post(f"/v1/cases/{queued}/diagnosis", json=DIAGNOSIS, headers=org.headers("dermatologist"))
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "illegal_state" and "'queued'" in r.json()["error"]["message"]

    case_id = in_review(client, org)
    other = make_dermatologist(sessions, org.org_id)
    r = client.post(f"/v1/cases/{case_id}/diagnosis", json=DIAGNOSIS, headers=bearer(other))
    assert r.status_code == 409 and r.json()["error"]["code"] == "lease_required"

    with transaction(sessions) as session:  # the holder's lease runs out
        session.execute(
            update(Case).where(Case.id == case_id).values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
    r = client.post(f"/v1/cases/{case_id}/diagnosis", json=DIAGNOSIS, headers=org.headers("dermatologist"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "lease_required"
    assert rows(sessions, case_id)["diagnoses"] == 0

    r = client.post(f"/v1/cases/{case_id}/diagnosis", json=DIAGNOSIS, headers=org.headers("intake"))
    assert r.status_code == 403
    # an admin acts without a lease
    r = client.post(f"/v1/cases/{case_id}/diagnosis", json=DIAGNOSIS, headers=org.headers("admin"))
    assert r.status_code == 201, r.text


def test_other_organizations_case_does_not_exist(client, org, other_org, sessions):
    case_id = in_review(client, org)
    for path, body in [
        ("diagnosis", DIAGNOSIS),
        ("prescriptions", PRESCRIPTION),
        ("follow-ups", follow_up_body()),
        ("retake-request", {"instructions": "Closer, please."}),
        ("referral", {"reason": "biopsy", "urgency": "soon"}),
        ("close", {"reason": "done"}),
    ]:
        r = client.post(f"/v1/cases/{case_id}/{path}", json=body, headers=other_org.headers("dermatologist"))
        assert r.status_code == 404, (path, r.text)
        assert r.json()["error"]["code"] == "case_not_found"
    assert client.get(f"/v1/cases/{case_id}/consult", headers=other_org.headers()).status_code == 404
    assert rows(sessions, case_id)["status"] == "in_review"
    assert ("consult.diagnosis.create", "not_found") in audit_actions(sessions, case_id)


def test_unlicensed_dermatologist_does_not_see_the_case(client, org, sessions):
    case_id = diagnosed(client, org)
    texan = make_dermatologist(sessions, org.org_id, jurisdictions=("US-TX",))
    assert client.get(f"/v1/cases/{case_id}/consult", headers=bearer(texan)).status_code == 404


# -- prescriptions ----------------------------------------------------------------------------


def test_prescription_for_a_diagnosed_case(client, org, sessions):
    case_id = diagnosed(client, org)
    r = client.post(
        f"/v1/cases/{case_id}/prescriptions",
        json=dict(PRESCRIPTION, strength="0.05 %", form="Cream"),
        headers=org.headers("dermatologist"),
    )
    assert r.status_code == 201, r.text
    p = r.json()["prescription"]
    assert (p["medication"], p["form"], p["strength"], p["quantity_unit"]) == (
        "tretinoin",
        "cream",
        "0.05%",
        "g",
    )
    assert r.json()["case"]["status"] == "diagnosed"
    event = last_event(sessions, case_id)
    assert event.event_type == types.PRESCRIPTION_ISSUED
    assert event.payload["prescription_id"] == p["id"] and event.payload["refills"] == 2
    consult = client.get(f"/v1/cases/{case_id}/consult", headers=org.headers()).json()
    assert [x["id"] for x in consult["prescriptions"]] == [p["id"]]
    assert consult["prescriptions"][0]["diagnosis_id"] == consult["diagnoses"][0]["id"]


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"rxcui": "999999999"}, 422, "rxcui"),
        ({"rxcui": "abc"}, 422, "rxcui"),
        ({"form": "shampoo"}, 422, "form"),
        ({"strength": "5%"}, 422, "strength"),
        ({"quantity": 0}, 422, "quantity"),
        ({"refills": 12}, 422, "refills"),
        ({"refills": -1}, 422, "refills"),
        ({"directions": ""}, 422, "directions"),
    ],
)
def test_bad_prescription_is_refused_with_nothing_written(client, org, sessions, change, status, field):
    case_id = diagnosed(client, org)
    before = rows(sessions, case_id)
    r = client.post(
        f"/v1/cases/{case_id}/prescriptions",
        json=dict(PRESCRIPTION, **change),
        headers=org.headers("dermatologist"),
    )
    assert r.status_code == status, r.text
    assert r.json()["error"]["field"] == field
    assert rows(sessions, case_id) == before


def test_prescription_needs_a_diagnosis_and_the_lease(client, org, sessions):
    case_id = in_review(client, org)
    r = client.post(
        f"/v1/cases/{case_id}/prescriptions", json=PRESCRIPTION, headers=org.headers("dermatologist")
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "diagnosis_required"

    case_id = diagnosed(client, org)
    other = make_dermatologist(sessions, org.org_id)
    r = client.post(f"/v1/cases/{case_id}/prescriptions", json=PRESCRIPTION, headers=bearer(other))
    assert r.status_code == 409 and r.json()["error"]["code"] == "lease_required"
    client.post(
        f"/v1/cases/{case_id}/follow-ups", json=follow_up_body(), headers=org.headers("dermatologist")
    )
    r = client.post(
        f"/v1/cases/{case_id}/prescriptions", json=PRESCRIPTION, headers=org.headers("dermatologist")
    )
    assert r.status_code == 409
    assert (
        r.json()["error"]["code"] == "illegal_state"
        and "'follow_up_scheduled'" in r.json()["error"]["message"]
    )
    assert rows(sessions, case_id)["prescriptions"] == 0

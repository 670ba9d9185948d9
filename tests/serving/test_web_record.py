"""The consult record on the case page shows what was saved (issue 15, bug 3), and a diagnosis typed
by its name is resolved by the catalogue's one rule (bug 4): the case page through TestClient, and the
API where the rule is the service's."""

from __future__ import annotations

import html as htmllib
import re
from datetime import timedelta

from consults_support import DIAGNOSIS, in_review
from sqlalchemy import select
from web_support import csrf, default_dermatologist, sign_in

from serving.cases.models import Case
from serving.consults import diagnoses
from serving.consults.models import Diagnosis
from serving.db import transaction, utcnow

ASSESSMENT = "Pearly papule with arborizing vessels on dermoscopy, 6 mm, left nasal ala."
REFERRAL = {
    "reason": "Needs an excision with margins.",
    "urgency": "soon",
    "specialty": "Mohs surgery",
    "instructions": "Bring your list of blood thinners to the visit.",
}


def _text(html: str) -> str:
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _section(page: str, element_id: str) -> str:
    start = page.index(f'id="{element_id}"')
    return _text(page[start : page.index("</", page.index("</li>", start))])


def _post(client, path: str, data: dict):
    return client.post(path, data={"csrf_token": csrf(client), **data}, follow_redirects=False)


def test_the_record_shows_the_assessment_its_author_and_the_referral(client, org, sessions):
    case_id = in_review(client, org)
    r = client.post(
        f"/v1/cases/{case_id}/diagnosis",
        json={**DIAGNOSIS, "code": "C44.91", "assessment": ASSESSMENT},
        headers=org.headers("dermatologist"),
    )
    assert r.status_code == 201, r.text
    r = client.post(f"/v1/cases/{case_id}/referral", json=REFERRAL, headers=org.headers("dermatologist"))
    assert r.status_code == 201, r.text
    api = client.get(f"/v1/cases/{case_id}/consult", headers=org.headers("dermatologist"))
    assert api.status_code == 200  # what the API has, the page shows
    assert REFERRAL["specialty"] in api.text and ASSESSMENT in api.text
    # the first review came two hours after its due time
    with transaction(sessions) as session:
        case = session.get(Case, case_id)
        case.review_due_at = case.first_review_due_at = case.first_reviewed_at - timedelta(hours=2)
    default_dermatologist(sessions, org.org_id)
    sign_in(client, org.slug, "derm")

    page = client.get(f"/cases/{case_id}").text
    diagnosis = _section(page, "diagnoses")
    assert ASSESSMENT in diagnosis and "by Dr. Default" in diagnosis
    referral = _section(page, "dispositions")
    assert "Referred in person (soon)" in referral and "by Dr. Default" in referral
    assert "Mohs surgery" in referral and REFERRAL["instructions"] in referral
    # the review clock stops: no countdown once referred, the outcome instead
    assert "overdue by" not in page and 'aria-label="Time to the review SLA"' not in page
    outcome = _text(re.search(r'<p id="review-outcome">(.*?)</p>', page, re.S).group(1))
    assert (
        outcome.startswith("Referred in person") and "first reviewed 2 h 00 min after the due time" in outcome
    )


def test_a_case_in_review_still_counts_down(client, org, sessions):
    case_id = in_review(client, org)
    with transaction(sessions) as session:
        session.get(Case, case_id).review_due_at = utcnow() - timedelta(minutes=5)
    default_dermatologist(sessions, org.org_id)
    sign_in(client, org.slug, "derm")
    page = client.get(f"/cases/{case_id}").text
    assert 'aria-label="Time to the review SLA"' in page and "overdue by" in page
    assert 'id="review-outcome"' not in page


def test_the_catalogue_resolves_a_typed_name_by_one_rule():
    assert diagnoses.resolve("basal cell carcinoma").entry.code == "C44.91"
    assert diagnoses.resolve("  Basal   CELL carcinoma ").entry.code == "C44.91"
    assert diagnoses.resolve("scabies").entry.code == "B86"
    assert diagnoses.resolve("melanoma").entry.code == "C43.9"  # a synonym of one entry only
    assert diagnoses.resolve("L70.0 — Acne vulgaris").entry.code == "L70.0"
    eczema = diagnoses.resolve("eczema")
    assert eczema.entry is None and eczema.ambiguous and len(eczema.candidates) > 1
    typo = diagnoses.resolve("basal cel carcinma")
    assert typo.entry is None and typo.candidates[0].code == "C44.91"


def test_a_diagnosis_typed_by_name_is_recorded_through_the_form(client, org, sessions):
    case_id = in_review(client, org)
    default_dermatologist(sessions, org.org_id)
    sign_in(client, org.slug, "derm")
    base = f"/cases/{case_id}"
    form = {"assessment": ASSESSMENT, "patient_plan": DIAGNOSIS["patient_plan"], "certainty": "provisional"}

    r = _post(client, f"{base}/diagnosis", {**form, "code": "eczema"})
    assert r.status_code == 422
    box = _text(r.text[r.text.index('id="diagnose-problem"') :].split("</div>")[0])
    assert "'eczema' matches 4 catalogue entries" in box and "L20.9 Atopic dermatitis" in box
    r = _post(client, f"{base}/diagnosis", {**form, "code": "basal cel carcinma"})
    assert r.status_code == 422 and "closest: C44.91 Basal cell carcinoma" in htmllib.unescape(r.text)

    r = _post(client, f"{base}/diagnosis", {**form, "code": "  Basal cell  carcinoma "})
    assert r.status_code == 303, _text(r.text)[:2000]
    with transaction(sessions) as session:
        codes = session.scalars(select(Diagnosis.icd10_code).where(Diagnosis.case_id == case_id)).all()
    assert codes == ["C44.91"]


def test_the_api_names_the_closest_entries(client, org):
    case_id = in_review(client, org)
    r = client.post(
        f"/v1/cases/{case_id}/diagnosis",
        json={**DIAGNOSIS, "code": "C44"},
        headers=org.headers("dermatologist"),
    )
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "unknown_diagnosis_code" and "C44.91" in error["message"]
    r = client.post(
        f"/v1/cases/{case_id}/diagnosis",
        json={**DIAGNOSIS, "code": "scabies"},
        headers=org.headers("dermatologist"),
    )
    assert r.status_code == 201 and r.json()["diagnosis"]["code"] == "B86", r.text

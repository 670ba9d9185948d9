"""Pathology on the case page, through TestClient: a dermatologist records a histopathology result on a
closed case with the page's form (the same service as ``POST /v1/cases/{id}/pathology``), sees it in the
consult record with the case's outcome label; a future report date and a code outside the catalogue come
back beside the form with what to fix and the text kept; a case no one reviewed offers no form and is
refused; an intake key (no session) and another organization's dermatologist cannot record one. The
patient card and the lesion timeline show each earlier case's outcome (pathology, else diagnosis)."""

from __future__ import annotations

import html as htmllib
import re
from datetime import UTC, datetime, timedelta

from consults_support import DIAGNOSIS, claim, diagnosed, submit
from patients_support import case_of
from sqlalchemy import func, select
from web_support import csrf, default_dermatologist, sign_in

from model import outcome
from serving.audit import AuditEvent
from serving.cases import intake
from serving.consults.models import PathologyResult
from serving.db import transaction, utcnow
from serving.web.patient_view import outcome_view

REPORT = "Nodular basal cell carcinoma, margins clear.\nNo perineural invasion."
PATIENT = {"external_id": "emr-3003", "birth_year": 1961, "sex": "female", "display_name": "Carol Example"}


def _section(html: str, title_id: str) -> str:
    start = html.index(f'aria-labelledby="{title_id}"')
    return html[start : html.index("</section>", start)]


def _text(fragment: str) -> str:
    """The fragment's words, tags dropped, spaces collapsed."""
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _results(sessions, case_id: str) -> int:
    with transaction(sessions) as session:
        return session.scalar(
            select(func.count()).select_from(PathologyResult).where(PathologyResult.case_id == case_id)
        )


def _closed(client, org) -> str:
    case_id = diagnosed(client, org)  # a provisional diagnosis: no outcome label yet
    r = client.post(
        f"/v1/cases/{case_id}/close", json={"reason": "Biopsy sent."}, headers=org.headers("dermatologist")
    )
    assert r.status_code == 200, r.text
    return case_id


def _record(client, case_id: str, **fields):
    data = {"csrf_token": csrf(client, f"/cases/{case_id}"), **fields}
    return client.post(f"/cases/{case_id}/pathology", data=data, follow_redirects=False)


def _today() -> str:
    return utcnow().date().isoformat()


def test_a_pathology_result_recorded_on_a_closed_case_shows_with_its_outcome_label(client, org, sessions):
    case_id = _closed(client, org)
    user_id = default_dermatologist(sessions, org.org_id)
    assert sign_in(client, org.slug, "derm").status_code == 303

    before = client.get(f"/cases/{case_id}").text
    assert "This case is closed. A pathology result can still be recorded (below)." in _text(before)
    record = _text(_section(before, "pathology-title"))
    assert "No pathology result recorded." in record and "Outcome label None yet" in record
    assert f'action="/cases/{case_id}/pathology"' in before
    assert 'list="diagnosis-codes"' in before and '<datalist id="diagnosis-codes">' in before

    r = _record(
        client, case_id, icd10="C44.91 — Basal cell carcinoma of skin", reported_on=_today(), report=REPORT
    )
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{case_id}?done=pathology"
    page = client.get(r.headers["location"]).text
    assert "Pathology result recorded" in page
    shown = _section(page, "pathology-title")
    (item,) = re.findall(r"<li>.*?</li>", shown, re.S)
    assert "<strong>C44.91</strong>" in item and "Basal cell carcinoma" in item
    assert f'datetime="{_today()}"' in item and "margins clear.\nNo perineural invasion." in item
    assert "Recorded by Dr. Default" in _text(item)
    label = _text(shown[shown.index('id="outcome-label"') :])
    assert "From Pathology" in label and "Code C44.91" in label
    assert "Model class BCC (basal cell carcinoma)" in label and "Malignancy malignant" in label
    assert "Mapping outcome-map-1" in label
    assert _results(sessions, case_id) == 1 and "still be recorded" in _text(page)

    # the same service wrote the audit row, with the user; the status did not move
    with transaction(sessions) as session:
        actions = session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.actor_user_id == user_id, AuditEvent.resource_id == case_id
            )
        ).all()
    assert "consult.pathology.create" in actions
    assert (
        client.get(f"/v1/cases/{case_id}", headers=org.headers("dermatologist")).json()["status"] == "closed"
    )


def test_a_future_date_and_an_unknown_code_come_back_beside_the_form(client, org, sessions):
    case_id = _closed(client, org)
    default_dermatologist(sessions, org.org_id)
    sign_in(client, org.slug, "derm")
    future = (utcnow() + timedelta(days=3)).date().isoformat()

    r = _record(
        client, case_id, icd10="C44.91 — Basal cell carcinoma of skin", reported_on=future, report=REPORT
    )
    assert r.status_code == 422
    box = r.text[r.text.index('id="pathology-problem"') :]
    box = _text(box[: box.index("</div>")])
    assert (
        f"the report date {future} is in the future" in box
        and "Enter the date printed on the pathology report: not in the future" in box
    )
    assert re.search(r'name="reported_on"[^>]*value="' + future + r'"[^>]*aria-invalid="true"', r.text, re.S)
    assert 'value="C44.91 — Basal cell carcinoma of skin"' in r.text and REPORT in htmllib.unescape(r.text)
    assert '<details class="action" id="action-pathology" open>' in r.text

    r = _record(client, case_id, icd10="Z99.99 — not a skin code", reported_on=_today(), report=REPORT)
    assert r.status_code == 422
    box = r.text[r.text.index('id="pathology-problem"') :]
    box = _text(box[: box.index("</div>")])
    assert "'Z99.99' is not in the diagnosis catalogue" in box
    assert "Pick the histopathology diagnosis from the list" in box
    assert re.search(
        r'name="icd10"[^>]*value="Z99.99 — not a skin code"[^>]*aria-invalid="true"', r.text, re.S
    )
    assert REPORT in htmllib.unescape(r.text)

    r = _record(client, case_id, icd10="", reported_on=_today())  # the schema's refusal, by field
    assert r.status_code == 422 and "Correct the field &#39;icd10&#39;." in r.text
    assert _results(sessions, case_id) == 0


def test_a_case_no_one_reviewed_offers_no_form_and_is_refused(client, org, sessions):
    case_id = submit(client, org)["id"]
    default_dermatologist(sessions, org.org_id)
    sign_in(client, org.slug, "derm")
    page = client.get(f"/cases/{case_id}").text
    assert 'id="action-pathology"' not in page and "No pathology result recorded." in page
    r = _record(client, case_id, icd10="C44.91", reported_on=_today())
    assert r.status_code == 409 and "no dermatologist has reviewed yet" in r.text
    assert "Claim the case from the queue and review it first." in r.text
    assert _results(sessions, case_id) == 0


def test_an_intake_key_and_another_organization_cannot_record_one(client, org, other_org, sessions):
    case_id = _closed(client, org)
    body = {"icd10": "C44.91", "reported_on": _today(), "report": REPORT}
    # an intake key is no session: the page sends it to sign in, and the API refuses the role
    r = client.post(
        f"/cases/{case_id}/pathology", data=body, headers=org.headers("intake"), follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in")
    api = client.post(f"/v1/cases/{case_id}/pathology", json=body, headers=org.headers("intake"))
    assert api.status_code == 403

    theirs = default_dermatologist(sessions, other_org.org_id)
    assert sign_in(client, other_org.slug, "derm").status_code == 303
    assert client.get(f"/cases/{case_id}").status_code == 404
    r = client.post(
        f"/cases/{case_id}/pathology", data={"csrf_token": csrf(client), **body}, follow_redirects=False
    )
    assert r.status_code == 404 and "No such case" in r.text
    assert _results(sessions, case_id) == 0
    with transaction(sessions) as session:
        refused = session.scalars(
            select(AuditEvent.outcome).where(
                AuditEvent.actor_user_id == theirs, AuditEvent.action == "consult.pathology"
            )
        ).all()
    assert refused == ["not_found"]


def test_the_patient_card_and_timeline_show_each_earlier_outcome(client, org, sessions, monkeypatch):
    start = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    cases = []
    for days, seed in ((0, 1), (60, 2), (120, 3)):
        monkeypatch.setattr(intake, "utcnow", lambda d=days: start + timedelta(days=d))
        cases.append(
            case_of(client, org, PATIENT, seed=seed, lesion_label="mole left shoulder", body_site="back")
        )
    monkeypatch.undo()
    biopsied, seen, current = cases
    for case, code in ((biopsied, "L82.1"), (seen, "D22.9")):
        assert claim(client, org, case["id"]).status_code == 200
        r = client.post(
            f"/v1/cases/{case['id']}/diagnosis",
            json={**DIAGNOSIS, "code": code, "certainty": "confirmed"},
            headers=org.headers("dermatologist"),
        )
        assert r.status_code == 201, r.text
    r = client.post(
        f"/v1/cases/{biopsied['id']}/pathology",
        json={"icd10": "C43.9", "reported_on": "2026-01-20", "report": "Superficial spreading melanoma."},
        headers=org.headers("dermatologist"),
    )
    assert r.status_code == 201, r.text

    default_dermatologist(sessions, org.org_id)
    sign_in(client, org.slug, "derm")
    page = client.get(f"/cases/{current['id']}").text
    panel = _section(page, "patient-title")
    newer, older = (_text(li) for li in re.findall(r"<li>.*?</li>", panel, re.S))
    assert older.startswith("05 Jan 2026") and "malignant" in older
    assert "Pathology: C43.9" in older and "(reported 20 Jan 2026)" in older
    assert "Diagnosis: L82.1" in older  # the dermatologist's diagnosis, beside what the biopsy showed
    assert newer.startswith("06 Mar 2026") and "not malignant" in newer and "D22.9" in newer
    assert "Pathology" not in newer
    timeline = _section(page, "timeline-title")
    outcomes = [_text(o) for o in re.findall(r'<span class="tl-outcome">(.*?)</span>', timeline)]
    assert outcomes == ["Pathology: C43.9, malignant", "Diagnosis: D22.9, not malignant"]
    assert "2 from other cases of this patient" in _text(timeline)


def test_the_outcome_label_reads_in_a_dermatologists_words():
    assert outcome_view(None) is None
    acne = outcome_view(outcome.outcome_label(pathology_code=None, diagnosis_code="L70.0"))
    assert (acne.source, acne.model_class, acne.category) == (
        "dermatologist's diagnosis",
        "none",
        "outside the model's classes (benign)",
    )
    assert acne.title == "Acne vulgaris" and acne.css == "outside"
    uncertain = outcome_view(outcome.label(outcome.Source.pathology, "D48.5"))
    assert uncertain.category == "outside the model's classes (behaviour uncertain)"
    melanoma = outcome_view(outcome.outcome_label(pathology_code="D03.9", diagnosis_code="D22.9"))
    assert (melanoma.source, melanoma.model_class, melanoma.category) == (
        "pathology",
        "MEL (melanoma)",
        "malignant",
    )

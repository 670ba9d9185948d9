"""``GET /v1/metrics/model`` through the HTTP API: every figure against a hand count of cases made
through the API (tiers from the red-flag rules, labels from diagnoses and pathology results, a retake
request, blurred photos the gate sends back), the tier at submission kept through a re-triage, the
organization and licence boundaries, the roles, the window's validation, the audit row."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from conftest import make_dermatologist
from consults_support import bearer, send_photo
from factories import good_jpeg
from monitoring_support import Spec, make, read_as, retriaged, work
from sqlalchemy import select

from model.triage.engine import TriageEngine
from model.triage.tiers import Tier
from serving.audit import AuditEvent
from serving.cases import intake
from serving.cases.models import Case
from serving.consults import pathology
from serving.db import transaction, utcnow

#: the cases of the hand count, in the order they are submitted (all in the organization's US-CA but E)
CASES = {
    "A": Spec("URGENT", pathology="C43.9"),
    "B": Spec("ROUTINE", diagnoses=(("C44.91", "confirmed"),)),
    "C": Spec("PRIORITY", pathology="C44.92"),
    "D": Spec("ROUTINE", diagnoses=(("D22.9", "confirmed"),)),
    "E": Spec("URGENT", diagnoses=(("L82.1", "confirmed"),), jurisdiction="US-NY"),
    "F": Spec("PRIORITY", photo="blurred", diagnoses=(("C43.9", "provisional"),)),
    "G": Spec("ROUTINE", pathology="D48.5"),
    "H": Spec("ROUTINE", diagnoses=(("D22.9", "confirmed"),), pathology="C43.9"),
    "I": Spec("ROUTINE", dermatologist_retake=True),
    "J": Spec("ROUTINE", photo="blurred"),
}
#: the urgency model's malignancy reading of each case's photo (G: uncertain label, left out)
READINGS = {"A": 0.40, "B": 0.05, "C": 0.20, "D": 0.02, "E": 0.30, "G": 0.50, "H": 0.08}


def _metrics(client, headers, window_days: int | str = 90):
    return client.get("/v1/metrics/model", params={"window_days": window_days}, headers=headers)


@pytest.fixture
def hand_count(client, org, other_org, sessions, monkeypatch):
    """The cases above; K, a URGENT melanoma submitted 120 days ago; L, another organization's."""
    ids = {name: make(client, org, spec, seed=i) for i, (name, spec) in enumerate(CASES.items())}
    for name, malignancy in READINGS.items():
        read_as(sessions, ids[name], malignancy)
    retriaged(sessions, ids["B"], "URGENT")  # triaged again later: judged by its tier at submission
    monkeypatch.setattr(intake, "utcnow", lambda: utcnow() - timedelta(days=120))
    ids["K"] = make(client, org, Spec("URGENT", pathology="C43.9"), seed=20)
    monkeypatch.undo()
    ids["L"] = make(client, other_org, Spec("URGENT", pathology="C44.91"), seed=21)
    return ids


def _rate(body: dict) -> tuple[int, int]:
    return body["k"], body["n"]


def test_every_figure_matches_the_hand_count(client, org, hand_count):
    ids = hand_count
    r = _metrics(client, org.headers("admin"))
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["window_days"] == 90 and m["scope"] == {"organization_id": org.org_id, "jurisdictions": None}

    # counts: A..J in the window (K is older, L another organization's); labelled: A B C D E G H
    assert m["counts"] == {
        "submitted": 10,
        "labelled": 7,
        "unlabelled": 3,  # F (a provisional diagnosis only), I, J
        "by_source": {"pathology": 4, "diagnosis": 3},  # A C G H; B D E
        "by_category": {"malignant": 4, "not_malignant": 2, "outside": 1},  # A B C H; D E; G
        "by_malignant": {"malignant": 4, "not_malignant": 2, "uncertain": 1},
    }

    # the tier at submission: malignant A (URGENT), B (ROUTINE, re-triaged URGENT later), C (PRIORITY),
    # H (ROUTINE: its pathology overrides the nevus diagnosis); benign D (ROUTINE), E (URGENT)
    tiers = m["tiers"]
    assert (tiers["positives"], tiers["negatives"], tiers["excluded_uncertain"]) == (4, 2, 1)
    assert tiers["by_tier"] == {
        "EMERGENCY": {"malignant": 0, "not_malignant": 0},
        "URGENT": {"malignant": 1, "not_malignant": 1},
        "PRIORITY": {"malignant": 1, "not_malignant": 0},
        "ROUTINE": {"malignant": 2, "not_malignant": 1},
    }
    urgent, priority = tiers["operating_points"]
    assert urgent["at_least"] == "URGENT" and priority["at_least"] == "PRIORITY"
    assert {k: urgent[k] for k in ("tp", "fn", "tn", "fp")} == {"tp": 1, "fn": 3, "tn": 1, "fp": 1}
    assert {k: priority[k] for k in ("tp", "fn", "tn", "fp")} == {"tp": 2, "fn": 2, "tn": 1, "fp": 1}
    assert _rate(urgent["sensitivity"]) == (1, 4) and urgent["sensitivity"]["value"] == 0.25
    assert _rate(urgent["specificity"]) == (1, 2) and _rate(priority["sensitivity"]) == (2, 4)
    low, high = urgent["sensitivity"]["low"], urgent["sensitivity"]["high"]
    assert low == pytest.approx(0.0456, abs=1e-4) and high == pytest.approx(0.6994, abs=1e-4)

    # malignant and ROUTINE at submission: B, then H, linked to their pages
    missed = m["routine_malignant"]
    assert [c["case_id"] for c in missed] == [ids["B"], ids["H"]]
    assert missed[0] | {"submitted_at": None} == {
        "case_id": ids["B"],
        "url": f"/cases/{ids['B']}",
        "submitted_at": None,
        "code": "C44.91",
        "title": "Basal cell carcinoma of skin, unspecified",
        "source": "diagnosis",
        "model_class": "BCC",
    }
    assert (missed[1]["code"], missed[1]["source"], missed[1]["model_class"]) == ("C43.9", "pathology", "MEL")

    # calibration: 6 judged cases with a reading, 2 bins of 3 by probability:
    # D .02 (benign), B .05, H .08 | C .20, E .30 (benign), A .40
    cal = m["calibration"]
    assert (cal["cases"], cal["without_probability"], cal["models"]) == (6, 0, {"urgency-test": 6})
    first, second = cal["bins"]
    assert (first["count"], first["low"], first["high"]) == (3, 0.02, 0.08)
    assert first["mean_predicted"] == pytest.approx(0.05) and _rate(first["observed"]) == (2, 3)
    assert second["mean_predicted"] == pytest.approx(0.30) and _rate(second["observed"]) == (2, 3)
    assert cal["ece"] == pytest.approx(0.5 * abs(0.05 - 2 / 3) + 0.5 * abs(0.30 - 2 / 3))

    # the gate against the dermatologists: reviewed A..I (J never); the gate sent F's and J's photo back
    q = m["quality"]
    assert q["reviewed"] == 9
    assert q["gate_passed"] == {"cases": 8, "dermatologist_no_retake": 7, "dermatologist_retake": 1}  # I
    assert q["gate_sent_back_reviewed"] == {
        "cases": 1,
        "dermatologist_retake": 0,
        "dermatologist_no_retake": 1,
    }
    assert _rate(q["gate_missed"]) == (1, 8) and _rate(q["agreement"]) == (7, 9)
    assert q["sent_back"]["photos"] == 2 and q["sent_back"]["cases"] == 2
    assert _rate(q["sent_back"]["reached_review"]) == (1, 2)  # F

    # drift, by hand: every case answers Fitzpatrick 3 (training: a quarter), two of ten say whether it
    # bleeds (training: nearly all), every photo is 800 px long (training: 300-512), 2 of 10 sent back
    figures = {(f["group"], f["key"]): f for f in m["drift"]["figures"]}
    fitz3 = figures[("fitzpatrick", "3")]
    assert (fitz3["value"], fitz3["n"], fitz3["alert"]) == (1.0, 10, True)
    assert fitz3["reference"] == pytest.approx(0.2546, abs=1e-4)
    bleeding = figures[("answer_rate", "bleeding")]
    assert (bleeding["value"], bleeding["alert"]) == (0.2, True)
    age = figures[("answer_rate", "age")]
    assert (age["value"], age["reference"], age["low"], age["alert"]) == (1.0, 1.0, 0.95, False)
    fever = figures[("answer_rate", "fever")]
    assert (fever["reference"], fever["low"], fever["alert"]) == (0.0, None, False)
    size = figures[("photo_size", "long_side_median")]
    assert (size["value"], size["low"], size["high"], size["alert"]) == (800, 300, 512, True)
    retake = figures[("retake", "sent_back")]
    assert (retake["value"], retake["n"], retake["alert"]) == (0.2, 10, True)
    assert retake["reference"] == pytest.approx(0.02)  # one photo a case: the per-photo rate
    assert retake["high"] == pytest.approx(0.02 + 3 * (0.02 * 0.98 / 10) ** 0.5)
    assert "quality model" in retake["note"]
    assert m["drift"]["alerts"] == sum(f["alert"] for f in m["drift"]["figures"])
    assert m["drift"]["reference"]["sources"] == ["pad_ufes_20"]

    # a longer window takes K in: one more malignant URGENT case
    longer = _metrics(client, org.headers("admin"), 365).json()
    assert longer["counts"]["submitted"] == 11 and longer["tiers"]["positives"] == 5
    assert longer["tiers"]["operating_points"][0]["tp"] == 2


def test_dermatologists_count_only_their_jurisdictions_and_organizations_stay_apart(
    client, org, other_org, sessions, hand_count
):
    # the organization's dermatologist (US-CA, US-NY, US-TX, US) sees what the admin sees
    everything = _metrics(client, org.headers("dermatologist")).json()
    assert everything["counts"]["submitted"] == 10
    assert everything["scope"]["jurisdictions"] == ["US", "US-CA", "US-NY", "US-TX"]
    # a dermatologist licensed in New York only: case E alone (benign, URGENT: a false positive)
    new_york = bearer(make_dermatologist(sessions, org.org_id, ("US-NY",)))
    m = _metrics(client, new_york).json()
    assert m["counts"]["submitted"] == 1 and m["counts"]["labelled"] == 1
    assert m["tiers"]["operating_points"][0] | {"sensitivity": None, "specificity": None} == {
        "at_least": "URGENT",
        "tp": 0,
        "fn": 0,
        "tn": 0,
        "fp": 1,
        "sensitivity": None,
        "specificity": None,
    }
    assert m["routine_malignant"] == [] and m["tiers"]["operating_points"][0]["sensitivity"]["value"] is None
    # licensed nowhere the organization has cases: nothing
    texas = bearer(make_dermatologist(sessions, org.org_id, ("US-TX",)))
    assert _metrics(client, texas).json()["counts"]["submitted"] == 0
    # the other organization's admin and dermatologist: their one case, never this organization's
    for role in ("admin", "dermatologist"):
        theirs = _metrics(client, other_org.headers(role)).json()
        assert theirs["counts"]["submitted"] == 1 and theirs["tiers"]["positives"] == 1
        assert [c["case_id"] for c in theirs["routine_malignant"]] == []
        assert theirs["tiers"]["operating_points"][0]["tp"] == 1
    assert hand_count["L"] not in str(_metrics(client, org.headers("admin")).json())


def test_the_read_is_audited(client, org, sessions):
    r = _metrics(client, org.headers("dermatologist"), 30)
    assert r.status_code == 200, r.text
    with transaction(sessions) as session:
        event = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.organization_id == org.org_id, AuditEvent.action == "metrics.model.read")
            .order_by(AuditEvent.id.desc())
        ).first()
    assert event is not None and event.actor_role == "dermatologist"
    assert event.detail == {"window_days": 30, "cases": 0}


def test_intake_is_forbidden_and_the_window_is_validated(client, org):
    r = _metrics(client, org.headers("intake"))
    assert r.status_code == 403 and r.json()["error"]["code"]
    assert client.get("/v1/metrics/model").status_code == 401
    for bad in (0, 731, -5, "ninety"):
        r = _metrics(client, org.headers("admin"), bad)
        assert r.status_code == 422, (bad, r.text)
        error = r.json()["error"]
        assert error["field"] and "window_days" in error["field"] and error["fix"]
    for good in (1, 730):
        assert _metrics(client, org.headers("admin"), good).status_code == 200
    assert client.get("/v1/metrics/model", headers=org.headers("admin")).json()["window_days"] == 90


def test_no_cases_gives_empty_figures(client, org):
    m = _metrics(client, org.headers("admin")).json()
    assert m["counts"]["submitted"] == 0 and m["routine_malignant"] == []
    assert m["calibration"] == {"cases": 0, "without_probability": 0, "bins": [], "ece": None, "models": {}}
    assert all(f["value"] is None and not f["alert"] for f in m["drift"]["figures"])
    assert m["tiers"]["operating_points"][0]["sensitivity"] == {
        "k": 0,
        "n": 0,
        "value": None,
        "low": None,
        "high": None,
    }


def test_a_re_triage_keeps_the_tier_at_submission(client, org, sessions, monkeypatch):
    case_id = make(client, org, Spec("ROUTINE", photo="blurred"))
    original = TriageEngine.decide

    def raised(self, questionnaire, photos):  # the new photo reads as URGENT
        return dataclasses.replace(original(self, questionnaire, photos), tier=Tier.URGENT)

    monkeypatch.setattr(TriageEngine, "decide", raised)
    assert send_photo(client, org, case_id, good_jpeg(7))["triage"]["tier"] == "URGENT"
    monkeypatch.undo()
    with transaction(sessions) as session:
        case = session.get(Case, case_id)
        assert (case.tier, case.submitted_tier) == (Tier.URGENT, Tier.ROUTINE)
    work(client, org, case_id, Spec("ROUTINE", diagnoses=(("C43.9", "confirmed"),)))
    m = _metrics(client, org.headers("admin")).json()
    assert [c["case_id"] for c in m["routine_malignant"]] == [case_id]
    assert m["tiers"]["operating_points"][0]["fn"] == 1


def test_a_dermoscopic_submission_raises_the_modality_alert(client, org):
    for seed in range(3):
        make(client, org, Spec("PRIORITY", answers=(("capture_device", "dermatoscope"),)), seed=seed)
    m = _metrics(client, org.headers("admin")).json()
    figures = {(f["group"], f["key"]): f for f in m["drift"]["figures"]}
    dermoscopic = figures[("modality", "dermoscopic")]
    assert (dermoscopic["value"], dermoscopic["reference"], dermoscopic["alert"]) == (1.0, 0.0, True)
    assert dermoscopic["high"] == 0.05


def test_the_bulk_outcome_labels_are_the_per_case_ones(org, sessions, hand_count):
    """One rule: ``outcomes_of`` (two queries for many cases) gives what ``outcome_of`` gives case by case."""
    with transaction(sessions) as session:
        cases = session.scalars(select(Case).where(Case.organization_id == org.org_id)).all()
        bulk = pathology.outcomes_of(session, select(Case.id).where(Case.organization_id == org.org_id))
        one_by_one = {c.id: pathology.outcome_of(session, case=c) for c in cases}
    assert bulk == {case_id: label for case_id, label in one_by_one.items() if label is not None}
    assert len(bulk) == 8 and bulk[hand_count["H"]].source.value == "pathology"
    assert hand_count["L"] not in bulk

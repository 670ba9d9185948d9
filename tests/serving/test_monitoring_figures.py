"""The monitoring's pure parts: the Wilson interval against published values, the counting rules
(a malignant code outside the model's classes is a positive, an uncertain one is left out), the
calibration bins, the drift bands and their alerts, the reference profile and the retake reference."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest

from model import input_profile, outcome
from model.outcome import Source
from model.proportions import wilson_interval
from model.triage.tiers import Tier
from serving.monitoring import drift, figures, reference
from serving.monitoring.figures import CaseFacts, SubmittedPhoto

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def case(
    name: str,
    tier: Tier = Tier.ROUTINE,
    code: str | None = None,
    *,
    malignancy: float | None = None,
    photos: int = 1,
    accepted: bool = True,
    reviewed: bool = False,
    retake: bool = False,
    answers: dict | None = None,
    side: int = 400,
    modality: str = "clinical",
) -> CaseFacts:
    shots = tuple(
        SubmittedPhoto(side, modality, accepted, malignancy if i == 0 else None, "m1") for i in range(photos)
    )
    return CaseFacts(
        id=name,
        submitted_at=T0 + timedelta(hours=len(name)),
        submitted_tier=tier,
        questionnaire=answers or {"jurisdiction": "US-CA"},
        photos=shots,
        reviewed=reviewed,
        dermatologist_retake=retake,
        label=None if code is None else outcome.label(Source.pathology, code),
    )


# --- Wilson ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [  # Newcombe (1998), Statistics in Medicine 17:857, table I, method 3 (Wilson, no continuity correction)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
        (29, 29, 0.8830, 1.0),
    ],
)
def test_wilson_interval_matches_published_values(k, n, low, high):
    got = wilson_interval(k, n)
    assert got == pytest.approx((low, high), abs=5e-5)


def test_wilson_interval_edges():
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    assert wilson_interval(0, 5)[0] == 0.0 and wilson_interval(5, 5)[1] == 1.0
    with pytest.raises(ValueError):
        wilson_interval(6, 5)
    # training imports the one definition
    from training.evaluation import metrics

    assert metrics.wilson_interval is wilson_interval


# --- counting rules ---------------------------------------------------------------------------------


def test_malignant_outside_the_classes_is_a_positive_and_uncertain_is_left_out():
    cases = [
        case("merkel", Tier.ROUTINE, "C4A.9"),  # outside the model's classes, malignant
        case("melanoma", Tier.URGENT, "C43.9"),
        case("dysplastic", Tier.URGENT, "D48.5"),  # uncertain behaviour
        case("lipoma", Tier.PRIORITY, "D17.9"),  # outside, benign
        case("nolabel", Tier.URGENT),
    ]
    counted = figures.counts(cases)
    assert counted["by_category"] == {"malignant": 1, "not_malignant": 0, "outside": 3}
    assert counted["by_malignant"] == {"malignant": 2, "not_malignant": 1, "uncertain": 1}
    urgent, priority = (figures.operating_point(cases, t) for t in figures.OPERATING_POINTS)
    assert (urgent.tp, urgent.fn, urgent.tn, urgent.fp) == (1, 1, 1, 0)
    assert (priority.tp, priority.fn, priority.tn, priority.fp) == (1, 1, 0, 1)
    assert [c.id for c in figures.routine_malignant(cases)] == ["merkel"]
    assert figures.tier_performance(cases)["excluded_uncertain"] == 1


def test_an_emergency_counts_as_flagged_at_both_operating_points():
    cases = [case("e", Tier.EMERGENCY, "C43.9")]
    assert all(figures.operating_point(cases, t).tp == 1 for t in figures.OPERATING_POINTS)


# --- calibration ---------------------------------------------------------------------------------------


def test_bin_sizes_are_equal_counts_within_limits():
    assert figures.bin_sizes(0) == []
    assert figures.bin_sizes(2) == [2]
    assert figures.bin_sizes(7) == [4, 3]
    assert figures.bin_sizes(100) == [20] * 5


def test_calibration_by_hand():
    # probabilities .1 .2 .3 (benign, malignant, malignant) | .6 .7 .9 (malignant, malignant, benign)
    cases = [
        case("a", code="D22.9", malignancy=0.1),
        case("b", code="C43.9", malignancy=0.2),
        case("c", code="C43.9", malignancy=0.3),
        case("d", code="C43.9", malignancy=0.6),
        case("e", code="C44.91", malignancy=0.7),
        case("f", code="L82.1", malignancy=0.9),
        case("g", code="C43.9"),  # triaged by the rules alone: no probability
        case("h", code="D48.5", malignancy=0.99),  # uncertain: left out
    ]
    cal = figures.calibration(cases)
    assert cal["cases"] == 6 and cal["without_probability"] == 1
    low, high = cal["bins"]
    assert (low.count, low.low, low.high, low.observed.k) == (3, 0.1, 0.3, 2)
    assert low.mean_predicted == pytest.approx(0.2) and high.mean_predicted == pytest.approx(2.2 / 3)
    assert cal["ece"] == pytest.approx(0.5 * abs(0.2 - 2 / 3) + 0.5 * abs(2.2 / 3 - 2 / 3))
    # a case's probability is its highest reading
    two = CaseFacts("x", T0, Tier.ROUTINE, {}, (SubmittedPhoto(1, None, True, 0.2, "m"),) * 2, False, False)
    assert two.malignancy == 0.2 and two.model == "m"


# --- the gate and the dermatologists -----------------------------------------------------------------------


def test_quality_agreement_by_hand():
    cases = [
        case("pass-ok", reviewed=True),
        case("pass-missed", reviewed=True, retake=True),
        case("back-agree", reviewed=True, accepted=False, retake=True),
        case("back-reviewed", reviewed=True, accepted=False),
        case("back-waiting", accepted=False, photos=2),
        case("never-reviewed"),
    ]
    q = figures.quality_agreement(cases)
    assert q["reviewed"] == 4
    assert q["gate_passed"] == {"cases": 2, "dermatologist_no_retake": 1, "dermatologist_retake": 1}
    assert q["gate_sent_back_reviewed"] == {
        "cases": 2,
        "dermatologist_retake": 1,
        "dermatologist_no_retake": 1,
    }
    assert (q["gate_missed"].k, q["gate_missed"].n) == (1, 2)
    assert (q["agreement"].k, q["agreement"].n) == (2, 4)
    assert q["sent_back"]["photos"] == 4 and q["sent_back"]["cases"] == 3
    assert (q["sent_back"]["reached_review"].k, q["sent_back"]["reached_review"].n) == (2, 3)


# --- drift -------------------------------------------------------------------------------------------------


REFERENCE = {
    "n_lesions": 1000,
    "answer_rates": {**dict.fromkeys(input_profile.QUESTIONS, 0.0), "age": 0.5, "bleeding": 1.0},
    "fitzpatrick": {"n": 500, "shares": {"1": 0.1, "2": 0.6, "3": 0.3, "4": 0.0, "5": 0.0, "6": 0.0}},
    "long_side": {"n": 1000, "p05": 300.0, "p25": 300.0, "p50": 512.0, "p75": 512.0, "p95": 512.0},
    "modality": {"n": 1000, "shares": {"clinical": 1.0, "dermoscopic": 0.0, "not_skin": 0.0}},
}


def _figure(found, group, key):
    (hit,) = [f for f in found if (f.group, f.key) == (group, key)]
    return hit


def test_share_band_is_three_standard_errors_or_five_points():
    low, high = drift.share_band(0.5, 100, 1000)
    half = 3 * math.sqrt(0.25 * (1 / 100 + 1 / 1000))
    assert (low, high) == pytest.approx((0.5 - half, 0.5 + half))
    assert drift.share_band(0.0, 1000, 1000) == pytest.approx((0.0, 0.05))
    assert drift.share_band(0.02, 10, None) == pytest.approx((0.0, 0.02 + 3 * math.sqrt(0.02 * 0.98 / 10)))


def test_a_figure_pushed_out_of_its_band_alerts():
    half_answer = [case(str(i), answers={"age": 40} if i % 2 else {}) for i in range(100)]
    inside = _figure(drift.answer_rates(half_answer, REFERENCE), "answer_rate", "age")
    assert (inside.value, inside.alert) == (0.5, False)
    few_answer = [case(str(i), answers={"age": 40} if i % 5 == 0 else {}) for i in range(100)]
    pushed = _figure(drift.answer_rates(few_answer, REFERENCE), "answer_rate", "age")
    assert (pushed.value, pushed.alert) == (0.2, True) and pushed.high < 0.7
    # a question never answered in training has no band and never alerts
    fever = _figure(
        drift.answer_rates([case("f", answers={"fever": True})], REFERENCE), "answer_rate", "fever"
    )
    assert (fever.value, fever.low, fever.alert) == (1.0, None, False)
    # skin types 4 to 6 where training had almost none
    darker = [case(str(i), answers={"fitzpatrick": 5}) for i in range(30)]
    assert _figure(drift.fitzpatrick(darker, REFERENCE), "fitzpatrick", "5").alert
    assert not _figure(drift.fitzpatrick(darker[:0], REFERENCE), "fitzpatrick", "5").alert
    # photos larger than any training photo; dermoscopic photos
    big = [case(str(i), side=4000, modality="dermoscopic") for i in range(5)]
    size = _figure(drift.photo_size(big, REFERENCE), "photo_size", "long_side_median")
    assert (size.value, size.alert) == (4000, True)
    assert not _figure(
        drift.photo_size([case("s", side=400)], REFERENCE), "photo_size", "long_side_median"
    ).alert
    assert _figure(drift.modality(big, REFERENCE), "modality", "dermoscopic").alert


def test_the_retake_reference_grows_with_the_photos_of_a_case():
    cases = [case("one", photos=1), case("three", photos=3, accepted=False)]
    assert drift.expected_retake_share(cases, 0.1) == pytest.approx((0.1 + (1 - 0.9**3)) / 2)
    (figure,) = drift.retake_share(cases, 0.1, "why")
    assert (figure.value, figure.n, figure.note) == (0.5, 2, "why")
    (unknown,) = drift.retake_share(cases, None, "no contract")
    assert unknown.low is None and not unknown.alert


def test_the_retake_reference_comes_from_the_bundled_quality_contract(tmp_path):
    rate, source = reference.false_retake_of(reference.QUALITY_CONTRACT)
    contract = json.loads(reference.QUALITY_CONTRACT.read_text())
    assert rate == contract["provenance"]["config"]["target_false_retake"]
    assert contract["version"] in source
    assert reference.false_retake_of(tmp_path / "missing.json")[0] is None


def test_the_committed_reference_profile_loads_and_has_every_question():
    ref = input_profile.load_reference()
    assert set(ref["answer_rates"]) == set(input_profile.QUESTIONS)
    assert ref["selection"]["sources"] == ["pad_ufes_20"] and ref["selection"]["splits"] == ["train"]
    assert ref["n_lesions"] > 500 and ref["modality"]["shares"]["clinical"] == 1.0
    assert sum(v for v in ref["fitzpatrick"]["shares"].values()) == pytest.approx(1.0)


def test_a_broken_reference_profile_is_refused(tmp_path):
    path = tmp_path / "profile.json"
    path.write_text(json.dumps({"schema": 99}))
    with pytest.raises(input_profile.ProfileError):
        input_profile.load_reference(path)
    with pytest.raises(input_profile.ProfileError):
        input_profile.load_reference(tmp_path / "absent.json")

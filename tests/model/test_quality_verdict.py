"""The combined quality verdict (classical checks + learned model): pure rules."""

from __future__ import annotations

import numpy as np
import pytest
from factories import skin_photo

from data_pipelines.degrade import DEFECTS as DEGRADE_DEFECTS
from model.messages import DEFECT_MESSAGE_IDS, message
from model.quality_checks import assess_quality
from model.quality_verdict import (
    DEFECTS,
    GATE_CHECKS,
    MAX_INSTRUCTIONS,
    ModelReading,
    QualityPolicy,
    classical_verdict,
    combine,
)


def instruction(defect: str, locale: str = "en") -> str:
    return message(DEFECT_MESSAGE_IDS[defect], locale)


PHONE = (4032, 3024)
POLICY = QualityPolicy(retake=0.4, defects={d: 0.5 for d in DEFECTS})


@pytest.fixture(scope="module")
def good_report():
    report = assess_quality(skin_photo((640, 480), seed=3), original_size=PHONE)
    assert report.verdict == "accept"
    return report


def reading(retake: float, **defects: float) -> ModelReading:
    return ModelReading(version="q-test", retake=retake, defects={d: defects.get(d, 0.01) for d in DEFECTS})


def test_every_defect_the_data_pipeline_makes_has_an_instruction():
    assert set(DEFECTS) == {d.value for d in DEGRADE_DEFECTS}
    assert all(len(instruction(d)) > 30 for d in DEFECTS)


def test_good_photo_and_confident_model_accept(good_report):
    v = combine(good_report, reading(0.05), POLICY)
    assert v.verdict == "accept" and v.defects == () and v.instructions == ()
    assert v.score >= 0.5


def test_model_retake_names_the_worst_defect_first(good_report):
    v = combine(good_report, reading(0.9, motion_blur=0.95, noise=0.6, glare=0.3), POLICY)
    assert v.verdict == "retake" and v.score < 0.5
    assert v.defects[:2] == ("motion_blur", "noise")
    assert "glare" not in v.defects  # below its threshold
    assert v.instructions[0] == instruction("motion_blur")


def test_retake_without_a_defect_over_threshold_names_the_most_likely(good_report):
    v = combine(good_report, reading(0.7, obstruction=0.55, noise=0.2), POLICY)
    assert v.verdict == "retake"
    assert v.defects == ("obstruction",)


def test_a_high_p_retake_without_a_nameable_defect_is_accepted(good_report):
    """The model asks for a retake only when it can say what to fix (a defect at its threshold): on
    untouched photos it never saw, a high P(retake) with no defect named was a false alarm."""
    v = combine(good_report, reading(0.99, obstruction=0.45, noise=0.2), POLICY)
    assert v.verdict == "accept" and v.score == 0.5


def test_defect_over_threshold_alone_does_not_send_back(good_report):
    """The retake output decides; a defect estimate above its threshold with a low P(retake) is a mild
    defect that a dermatologist can still read through."""
    v = combine(good_report, reading(0.1, noise=0.55), POLICY)
    assert v.verdict == "accept" and v.defects == ()


def test_a_failing_resolution_floor_sends_back_and_comes_first():
    tiny = skin_photo((160, 120), seed=4)
    report = assess_quality(tiny, original_size=(160, 120))
    assert not report.checks["resolution"].passed
    v = combine(report, reading(0.01, defocus_blur=0.3), POLICY)
    assert v.verdict == "retake"
    assert v.defects[:2] == ("low_resolution", "defocus_blur")
    assert v.instructions[0] == instruction("low_resolution")


def test_failing_gate_sends_back_but_the_model_names_the_cause():
    """A dark photo fails the exposure gate; when the model reads it as dark too, that comes first, and
    the gate's own defect is still listed."""
    dark = (skin_photo((640, 480), seed=5).astype(np.float32) * 0.12).astype(np.uint8)
    report = assess_quality(dark, original_size=PHONE)
    assert "underexposure" in GATE_CHECKS and not report.checks["underexposure"].passed
    v = combine(report, reading(0.02, underexposure=0.8, noise=0.6), POLICY)
    assert v.verdict == "retake" and v.score < 0.5
    assert v.defects == ("underexposure", "noise")
    cast = combine(report, reading(0.95, colour_cast=0.9), POLICY)
    assert cast.defects == ("colour_cast", "underexposure")  # the model names the cause, the gate follows


def test_gate_scores_lower_the_score_only_when_a_gate_fails(good_report):
    """Ranking photos by the score is the model's ranking while every gate passes."""
    low, high = combine(good_report, reading(0.05), POLICY), combine(good_report, reading(0.3), POLICY)
    assert low.score > high.score >= 0.5


def test_framing_instruction_comes_from_the_check_when_it_knows_which():
    report = assess_quality(skin_photo((640, 480), lesion_scale=0.02, seed=6), original_size=PHONE)
    assert not report.checks["lesion_framing"].passed
    v = combine(report, reading(0.9, framing=0.9), POLICY)
    assert v.instructions[v.defects.index("framing")] == report.checks["lesion_framing"].instruction


@pytest.mark.parametrize("p", [0.0, 0.2, 0.399, 0.4, 0.41, 0.8, 1.0])
def test_score_is_at_least_half_exactly_when_accepted(good_report, p):
    v = combine(good_report, reading(p, motion_blur=0.9), POLICY)
    assert (v.score >= 0.5) == (v.verdict == "accept") == (p < POLICY.retake)
    assert 0.0 <= v.score <= 1.0


def test_policy_from_contract_thresholds_requires_every_threshold():
    thresholds = {"retake": 0.3, **{f"defect.{d}": 0.5 for d in DEFECTS}}
    policy = QualityPolicy.from_thresholds(thresholds, DEFECTS)
    assert policy.retake == 0.3 and policy.defects["glare"] == 0.5
    del thresholds["defect.glare"]
    with pytest.raises(ValueError, match="defect.glare"):
        QualityPolicy.from_thresholds(thresholds, DEFECTS)


def test_classical_verdict_keeps_the_checks_decision():
    report = assess_quality(skin_photo((160, 120), seed=4), original_size=(160, 120))
    v = classical_verdict(report)
    assert v.verdict == report.verdict == "retake"
    assert "low_resolution" in v.defects
    assert v.instructions[0] == instruction("low_resolution")
    assert v.readable  # 160 px: a retake is asked, the photo is still read


def test_the_bundled_champion_loads_and_a_dark_photo_is_named_dark():
    from model.loading import ARTIFACTS
    from model.quality_model import QualityModel
    from model.triage.engine import TriageEngine

    model = QualityModel(ARTIFACTS / "quality.onnx")
    assert model.version.startswith("quality-") and set(model.defects) == set(DEFECTS)
    dark = (skin_photo((800, 600), seed=8).astype(np.float32) * 0.08).astype(np.uint8)
    quality = TriageEngine(quality_model=model).judge_quality(dark, original_size=(4032, 3024))
    assert quality.verdict == "retake"
    assert quality.defects[0] == "underexposure"


def test_a_failing_exposure_check_wins_over_the_opposite_reading():
    dark = (skin_photo((640, 480), seed=5).astype(np.float32) * 0.12).astype(np.uint8)
    report = assess_quality(dark, original_size=PHONE)
    v = combine(report, reading(0.9, overexposure=0.7, noise=0.4), POLICY)
    assert v.defects[0] == "underexposure" and "overexposure" not in v.defects  # never both


def test_at_most_two_instructions_each_one_action(good_report):
    v = combine(good_report, reading(0.95, motion_blur=0.9, noise=0.8, glare=0.7, colour_cast=0.6), POLICY)
    assert len(v.defects) == len(v.instructions) == MAX_INSTRUCTIONS
    assert v.defects == ("motion_blur", "noise")


@pytest.mark.parametrize("locale", ["es", "pt-BR"])
def test_instructions_come_in_the_patients_language(good_report, locale):
    v = combine(good_report, reading(0.9, motion_blur=0.95), POLICY, locale=locale)
    assert v.instructions[0] == instruction("motion_blur", locale) != instruction("motion_blur")


def test_a_readable_photo_is_not_an_unreadable_one(good_report):
    assert combine(good_report, reading(0.99, defocus_blur=0.9), POLICY).readable


@pytest.mark.parametrize(
    ("size", "scale", "cause"),
    [((40, 40), 1.0, "low_resolution"), ((640, 480), 0.0, "underexposure")],
)
def test_a_photo_that_cannot_be_read_is_unreadable_and_names_why(size, scale, cause):
    rgb = skin_photo((max(size), max(size)), seed=9)[: size[1], : size[0]].astype(np.float32) * scale
    rgb = rgb.astype(np.uint8)
    report = assess_quality(rgb, original_size=size)
    v = combine(report, reading(0.01), POLICY, original_size=size)
    assert v.verdict == "retake" and not v.readable
    assert v.defects[0] == cause


def test_not_skin_is_unreadable_with_its_own_instruction(good_report):
    v = combine(good_report, reading(0.01), POLICY, modality="not_skin")
    assert not v.readable and v.defects[0] == "not_skin"
    assert v.instructions[0] == message("quality.not_skin")


def test_a_dermoscopic_image_is_never_refused_for_colour_or_the_phone_model(good_report):
    v = combine(good_report, reading(0.99, colour_cast=0.99), POLICY, modality="dermoscopic")
    assert v.verdict == "accept" and v.readable

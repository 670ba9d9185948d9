"""Tests for model.quality_checks on synthetic skin photos made here (no dataset files)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from model.quality_checks import assess_quality
from model.quality_checks import report as checks

PHONE = (4032, 3024)  # original size of a 12 MP phone photo
LIGHT_SKIN = (205, 160, 135)
BROWN_LESION = (110, 70, 50)
DARK_SKIN = (90, 60, 45)
DARK_LESION = (40, 25, 20)


def skin_photo(
    skin=LIGHT_SKIN,
    lesion=BROWN_LESION,
    *,
    size=(756, 1008),
    centre=(0.5, 0.5),
    axes=(0.17, 0.13),
    seed=0,
) -> np.ndarray:
    """A phone-like close-up: shaded skin with pores, fine noise and a few hairs, and an irregular
    lesion with darker dots and a sharp border. size = (height, width); centre and axes are fractions."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    shading = 1.0 + 0.06 * np.sin(xx / w * 2.5 + 0.3) * np.cos(yy / h * 2.0)
    img = np.asarray(skin, np.float32) * shading[..., None]
    pores = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.5)
    img += 18.0 * pores[..., None]
    # lesion: an ellipse with a wobbly outline, mottled inside
    cx, cy = centre[0] * w, centre[1] * h
    ax, ay = axes[0] * w, axes[1] * h
    theta = np.arctan2((yy - cy) / ay, (xx - cx) / ax)
    radius = np.hypot((xx - cx) / ax, (yy - cy) / ay)
    wobble = 1.0 + 0.08 * np.sin(5 * theta + 1.0) + 0.05 * np.cos(9 * theta)
    inside = (radius <= wobble).astype(np.float32)
    inside = cv2.GaussianBlur(inside, (0, 0), 0.8)[..., None]
    mottle = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 4.0)
    lesion_img = np.asarray(lesion, np.float32) * (1.0 + 0.25 * mottle[..., None])
    img = img * (1 - inside) + lesion_img * inside
    # a few dark hairs in different directions (sharp, thin edges)
    for _ in range(6):
        p1 = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        angle = rng.uniform(0, np.pi)
        length = rng.uniform(0.2, 0.4) * w
        p2 = (int(p1[0] + length * np.cos(angle)), int(p1[1] + length * np.sin(angle)))
        cv2.line(img, p1, p2, tuple(0.45 * np.asarray(skin, float)), 2, cv2.LINE_AA)
    img += rng.normal(0, 2.0, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def linear_gain(rgb: np.ndarray, gains) -> np.ndarray:
    lin = (rgb / 255.0) ** 2.2 * np.asarray(gains)
    return (np.clip(lin, 0, 1) ** (1 / 2.2) * 255).astype(np.uint8)


def motion_blur(rgb: np.ndarray, length: int, angle_deg: float) -> np.ndarray:
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle_deg, 1.0)
    kernel = cv2.warpAffine(kernel, rot, (length, length))
    return cv2.filter2D(rgb, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)


def add_glare(rgb: np.ndarray, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, w = rgb.shape[:2]
    layer = np.zeros((h, w), np.float32)
    for _ in range(6):
        centre = (int(rng.uniform(0.25, 0.75) * w), int(rng.uniform(0.25, 0.75) * h))
        axes = (int(rng.uniform(0.02, 0.04) * w), int(rng.uniform(0.015, 0.03) * w))
        cv2.ellipse(layer, centre, axes, rng.uniform(0, 180), 0, 360, 1.0, -1)
    alpha = np.clip(cv2.GaussianBlur(layer, (0, 0), 3) * 1.5, 0, 1)[..., None]
    return np.clip(rgb * (1 - alpha) + 255.0 * alpha, 0, 255).astype(np.uint8)


def non_skin_scene(size=(756, 1008), seed=3) -> np.ndarray:
    """A blue-grey textured fabric / desk: no skin."""
    rng = np.random.default_rng(seed)
    h, w = size
    field = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 25)
    field = (field - field.min()) / np.ptp(field)
    base = np.array([70, 90, 130], np.float32) * (0.7 + 0.6 * field[..., None])
    weave = 10 * np.sin(np.arange(w) * 0.9)[None, :, None]
    return np.clip(base + weave + rng.normal(0, 3, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    return skin_photo()


@pytest.fixture(scope="module")
def clean_report(clean) -> checks.QualityReport:
    return assess_quality(clean, original_size=PHONE)


def assert_fails_with(report: checks.QualityReport, check: str, instruction: str | None = None) -> None:
    result = report.checks[check]
    assert not result.passed, (check, result, report)
    assert report.verdict == "retake"
    text = instruction or checks.INSTRUCTIONS[check]
    assert result.instruction == text
    assert text in report.instructions


# --------------------------------------------------------------------------------------------------
# the interface


def test_clean_photo_is_accepted(clean_report):
    assert clean_report.verdict == "accept", clean_report
    assert clean_report.instructions == []
    assert clean_report.score >= 0.5
    assert all(c.passed and c.instruction is None for c in clean_report.checks.values())


def test_report_shape(clean_report):
    assert isinstance(checks.CHECKS_VERSION, str) and checks.CHECKS_VERSION
    assert list(clean_report.checks) == list(checks.CHECK_NAMES)
    assert set(checks.IMPORTANCE) == set(checks.CHECK_NAMES)
    for name, result in clean_report.checks.items():
        assert isinstance(result, checks.CheckResult)
        assert result.name == name
        assert result.threshold == checks.THRESHOLDS[name]
        assert 0.0 <= result.score <= 1.0
        assert result.score == round(result.score, 3)
        assert result.passed == (result.score >= result.threshold)
    assert 0.0 <= clean_report.score <= 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        clean_report.verdict = "retake"  # type: ignore[misc]


def test_deterministic(clean):
    first = assess_quality(clean, original_size=PHONE)
    second = assess_quality(clean.copy(), original_size=PHONE)
    assert first == second


def test_scores_do_not_depend_much_on_input_size():
    # the same scene rendered at 1008x756 and at 512x384 (and a 512x512 square crop of the scene)
    big = skin_photo(size=(756, 1008))
    small = cv2.resize(big, (512, 384), interpolation=cv2.INTER_AREA)
    square = cv2.resize(big[:, 126:882], (512, 512), interpolation=cv2.INTER_AREA)
    reports = [assess_quality(im, original_size=PHONE) for im in (big, small, square)]
    assert [r.verdict for r in reports] == ["accept"] * 3
    for name in checks.CHECK_NAMES:
        scores = [r.checks[name].score for r in reports[:2]]
        assert max(scores) - min(scores) <= 0.15, (name, scores)


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        assess_quality(np.zeros((100, 100), np.uint8), original_size=(100, 100))
    with pytest.raises(ValueError):
        assess_quality(np.zeros((100, 100, 3), np.float32), original_size=(100, 100))


# --------------------------------------------------------------------------------------------------
# each defect fails its own check


def test_defocus_blur_fails_focus(clean):
    report = assess_quality(cv2.GaussianBlur(clean, (0, 0), 8), original_size=PHONE)
    assert_fails_with(report, "focus_blur")
    assert report.instructions[0] == checks.INSTRUCTIONS["focus_blur"]


def test_motion_blur_fails_motion(clean):
    report = assess_quality(motion_blur(clean, 41, 30), original_size=PHONE)
    assert_fails_with(report, "motion_blur")


def test_dark_photo_fails_underexposure(clean):
    report = assess_quality((clean * 0.22).astype(np.uint8), original_size=PHONE)
    assert_fails_with(report, "underexposure")
    assert report.instructions[0] == checks.INSTRUCTIONS["underexposure"]


def test_bright_photo_fails_overexposure(clean):
    report = assess_quality(np.clip(clean * 1.8 + 60, 0, 255).astype(np.uint8), original_size=PHONE)
    assert_fails_with(report, "overexposure")


def test_glare_spots_fail_glare(clean):
    report = assess_quality(add_glare(clean), original_size=PHONE)
    assert_fails_with(report, "glare")
    assert report.instructions[0] == checks.INSTRUCTIONS["glare"]


@pytest.mark.parametrize("gains", [(0.6, 0.9, 1.8), (0.65, 1.35, 0.65)], ids=["blue", "green"])
def test_colour_cast_fails_colour_cast(clean, gains):
    report = assess_quality(linear_gain(clean, gains), original_size=PHONE)
    assert_fails_with(report, "colour_cast")


@pytest.mark.parametrize("size", [(200, 150), (160, 120), (150, 200)])
def test_thumbnail_fails_resolution(clean, size):
    thumb = cv2.resize(clean, size, interpolation=cv2.INTER_AREA)
    report = assess_quality(thumb, original_size=size)
    assert_fails_with(report, "resolution")


@pytest.mark.parametrize("size", [(300, 300), (320, 240), (512, 512), (1008, 756), (4032, 3024)])
def test_normal_photo_sizes_pass_resolution(clean, size):
    report = assess_quality(clean, original_size=size)
    assert report.checks["resolution"].passed


def test_tiny_lesion_fails_framing_move_closer():
    report = assess_quality(skin_photo(axes=(0.035, 0.03)), original_size=PHONE)
    assert_fails_with(report, "lesion_framing", checks.INSTRUCTION_MOVE_CLOSER)


def test_lesion_cut_by_frame_fails_framing_centre():
    report = assess_quality(skin_photo(centre=(0.97, 0.5), axes=(0.15, 0.15)), original_size=PHONE)
    assert_fails_with(report, "lesion_framing", checks.INSTRUCTION_CENTRE)


def test_no_skin_fails_skin_present():
    report = assess_quality(non_skin_scene(), original_size=PHONE)
    assert_fails_with(report, "skin_present")
    assert report.instructions[0] == checks.INSTRUCTIONS["skin_present"]


def test_grey_frame_fails_skin_present():
    grey = np.full((600, 800, 3), 128, np.uint8)
    report = assess_quality(grey, original_size=PHONE)
    assert_fails_with(report, "skin_present")


# --------------------------------------------------------------------------------------------------
# skin tones, ordering, overall score


def test_dark_skin_clean_photo_is_accepted():
    report = assess_quality(skin_photo(DARK_SKIN, DARK_LESION, seed=5), original_size=PHONE)
    assert report.checks["skin_present"].passed, report.checks["skin_present"]
    assert report.checks["underexposure"].passed, report.checks["underexposure"]
    assert report.verdict == "accept", report


@pytest.mark.parametrize(
    "tone",
    [(235, 200, 185), (170, 120, 90), (120, 80, 60), (72, 48, 36)],
    ids=["I", "III-IV", "V", "VI-darker"],
)
def test_other_skin_tones_are_accepted(tone):
    report = assess_quality(skin_photo(tone, tuple(int(0.5 * c) for c in tone), seed=7), original_size=PHONE)
    assert report.checks["skin_present"].passed, (tone, report.checks["skin_present"])
    assert report.verdict == "accept", (tone, report)


def test_instructions_follow_importance_without_duplicates(clean):
    # blurred, dark and tiny: several checks fail at once
    bad = (cv2.GaussianBlur(clean, (0, 0), 8) * 0.22).astype(np.uint8)
    bad = cv2.resize(bad, (200, 150), interpolation=cv2.INTER_AREA)
    report = assess_quality(bad, original_size=(200, 150))
    failed = [n for n in checks.IMPORTANCE if not report.checks[n].passed]
    assert len(failed) >= 3
    expected: list[str] = []
    for name in failed:
        if report.checks[name].instruction not in expected:
            expected.append(report.checks[name].instruction)
    assert report.instructions == expected
    assert len(set(report.instructions)) == len(report.instructions)
    assert report.instructions[-1] == checks.INSTRUCTIONS["resolution"]


def test_overall_score_is_below_half_exactly_when_retake(clean, clean_report):
    bad = assess_quality(cv2.GaussianBlur(clean, (0, 0), 8), original_size=PHONE)
    assert bad.score < 0.5 <= clean_report.score

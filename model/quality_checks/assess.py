"""``assess_quality``: run every check on one photo and combine them into a :class:`QualityReport`."""

from __future__ import annotations

import cv2
import numpy as np

from model.quality_checks import report
from model.quality_checks.colour import colour_cast_score, skin_fraction, skin_score
from model.quality_checks.exposure import glare_fraction, glare_score, overexposure_score, underexposure_score
from model.quality_checks.framing import find_lesion, framing_scores
from model.quality_checks.imaging import (
    ANALYSIS_LONG_SIDE,
    GLARE_LONG_SIDE,
    SEGMENT_LONG_SIDE,
    clip01,
    normalise_brightness,
    resize_long_side,
)
from model.quality_checks.sharpness import directional_sharpness, focus_score, motion_score, resolution_score


def _result(name: str, score: float, instruction: str | None = None) -> report.CheckResult:
    score = round(clip01(score), 3)
    threshold = report.THRESHOLDS[name]
    passed = score >= threshold
    text = None if passed else (instruction or report.INSTRUCTIONS[name])
    return report.CheckResult(name=name, score=score, passed=passed, threshold=threshold, instruction=text)


def _overall(checks: dict[str, report.CheckResult]) -> float:
    worst = 1.0
    for c in checks.values():
        t = c.threshold
        q = 0.5 * c.score / t if c.score < t else 0.5 + 0.5 * (c.score - t) / (1.0 - t)
        worst = min(worst, q)
    if any(not c.passed for c in checks.values()):
        worst = min(worst, 0.499)
    return round(worst, 3)


#: the analysis image's short side is stretched to at least this (a photo a few pixels across, or a
#: sliver like 2000x5, still gets every check; its resolution check fails on the original size)
MIN_ANALYSIS_SIDE = 32


def _analysis_image(rgb: np.ndarray) -> np.ndarray:
    img = resize_long_side(rgb, ANALYSIS_LONG_SIDE)
    h, w = img.shape[:2]
    if min(h, w) < MIN_ANALYSIS_SIDE:
        img = cv2.resize(
            img, (max(w, MIN_ANALYSIS_SIDE), max(h, MIN_ANALYSIS_SIDE)), interpolation=cv2.INTER_NEAREST
        )
    return img


def assess_quality(rgb: np.ndarray, *, original_size: tuple[int, int]) -> report.QualityReport:
    """rgb: HxWx3 uint8 RGB, already EXIF-oriented, reduced so its long side is <= ~1024 px
    (may be smaller, e.g. 512x512). original_size: (width, height) of the full-size photo."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError("rgb must be an HxWx3 uint8 array")
    if rgb.size == 0:
        raise ValueError("rgb must have at least one pixel")
    img = _analysis_image(np.ascontiguousarray(rgb))
    gray_u8 = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    gray = gray_u8.astype(np.float32) * (1.0 / 255.0)
    small = resize_long_side(img, SEGMENT_LONG_SIDE)
    colours = normalise_brightness(small)
    lab_small = cv2.cvtColor(colours.astype(np.float32) * (1.0 / 255.0), cv2.COLOR_RGB2Lab)

    sharpest, blurriest = directional_sharpness(gray)
    lesion = find_lesion(colours)
    size, position = framing_scores(lesion)
    framing_text = report.INSTRUCTION_MOVE_CLOSER if size <= position else report.INSTRUCTION_CENTRE

    results = [
        _result("resolution", resolution_score(original_size)),
        _result("focus_blur", focus_score(sharpest)),
        _result("motion_blur", motion_score(sharpest, blurriest)),
        _result("underexposure", underexposure_score(gray_u8)),
        _result("overexposure", overexposure_score(img, gray_u8)),
        _result("glare", glare_score(glare_fraction(resize_long_side(img, GLARE_LONG_SIDE)))),
        _result("colour_cast", colour_cast_score(lab_small)),
        _result("skin_present", skin_score(skin_fraction(colours, small))),
        _result("lesion_framing", min(size, position), framing_text),
    ]
    checks = {r.name: r for r in results}
    instructions: list[str] = []
    for name in report.IMPORTANCE:
        text = checks[name].instruction
        if text is not None and text not in instructions:
            instructions.append(text)
    verdict = report.Verdict.accept if all(r.passed for r in results) else report.Verdict.retake
    return report.QualityReport(
        verdict=verdict, score=_overall(checks), checks=checks, instructions=instructions
    )

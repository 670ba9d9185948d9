"""The vocabulary of a quality report: check names, thresholds, instructions, verdict and result types."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

CHECKS_VERSION = "quality-checks-2"

#: Most important first: the order of ``QualityReport.instructions``.
IMPORTANCE: tuple[str, ...] = (
    "skin_present",
    "lesion_framing",
    "focus_blur",
    "motion_blur",
    "underexposure",
    "overexposure",
    "glare",
    "colour_cast",
    "resolution",
)

THRESHOLDS: dict[str, float] = {
    "resolution": 0.3,
    "focus_blur": 0.5,
    "motion_blur": 0.43,
    "underexposure": 0.5,
    "overexposure": 0.5,
    "glare": 0.5,
    "colour_cast": 0.5,
    "skin_present": 0.5,
    "lesion_framing": 0.4,
}

#: every check, in the order a report lists them
CHECK_NAMES: tuple[str, ...] = tuple(THRESHOLDS)

INSTRUCTIONS: dict[str, str] = {
    "resolution": (
        "Use your phone's main camera at full resolution, and send the photo itself rather than "
        "a screenshot or a thumbnail."
    ),
    "focus_blur": (
        "Hold the phone about 10\u201315 cm from the skin and tap the spot on the screen so the camera "
        "focuses on it."
    ),
    "motion_blur": "Hold the phone steady \u2014 rest your elbow on a table \u2014 and take the photo again.",
    "underexposure": "Move to a brighter place with even light, such as near a window during the day.",
    "overexposure": "The photo is too bright: move out of direct sunlight or turn the flash off.",
    "glare": (
        "Avoid shine on the skin: turn the flash off and tilt the phone slightly so lights don't reflect."
    ),
    "colour_cast": "Take the photo in daylight or white light; avoid coloured or yellow lamps.",
    "skin_present": "Make sure the photo shows the skin around the spot, filling most of the picture.",
}
INSTRUCTION_MOVE_CLOSER = "Move closer so the spot fills about a third of the photo."
INSTRUCTION_CENTRE = "Centre the spot and keep all of it inside the frame."


class Verdict(StrEnum):
    """Whether a dermatologist could judge the photo ("accept") or the patient must take it again."""

    accept = "accept"
    retake = "retake"


@dataclass(frozen=True)
class CheckResult:
    name: str
    score: float
    passed: bool
    threshold: float
    instruction: str | None


@dataclass(frozen=True)
class QualityReport:
    verdict: Verdict
    score: float
    checks: dict[str, CheckResult]
    instructions: list[str]

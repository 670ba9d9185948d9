"""One photo's quality verdict from the classical checks and the learned quality model (pure).

The learned model (``model.quality_model``) reads the whole photo and gives P(retake) and an estimated
severity per defect; the classical checks (``model.quality_checks``) measure a few things exactly.
``combine`` puts them together:

* **verdict**: "retake" when the model's P(retake) reaches its threshold, or when a *gate* check
  fails. Gates are the checks that measure a hard limit directly and almost never fail a usable photo
  (``GATE_CHECKS``: too few pixels, no skin in view, nearly black, washed out). The other checks
  (sharpness, glare, colour, framing) overlap with what the model learned and flag a few percent of
  good photos each, so they inform the instructions but do not decide alone.
* **defects**: what is wrong, most important first. A failing resolution floor first (a fact about
  the file the patient sent, which no other change fixes); then the model's most likely defect (unless
  a failing exposure check says the opposite: too dark where the model reads too bright), then its
  other defects at or above their thresholds, worst estimated severity first; then the failing gates and
  the failing non-gate checks the model did not already name. The model names the cause better than the
  checks' proxies: a strong colour cast, for one, also fails the skin-colour check, and naming "no skin
  in view" would send the patient the wrong way (chosen on validation photos: the first instruction named
  the applied defect in 86 % of moderate/severe cases this way, 76 % with the gates first).
* **instructions**: one sentence a patient can act on per defect, in that order (duplicates dropped).
* **score** in [0, 1]: the model's quality (P(retake) mapped so that its threshold is 0.5), lowered to
  the gates' score only when a gate fails; ``score >= 0.5`` exactly when the verdict is "accept".

Without a model, ``classical_verdict`` keeps the classical report as it is (every check decides).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from model.quality_checks import IMPORTANCE, QualityReport, Verdict

#: one instruction per defect the model knows (the names of ``data_pipelines.degrade.Defect``)
DEFECT_INSTRUCTIONS: dict[str, str] = {
    "defocus_blur": "The photo is out of focus: hold the phone about 10-15 cm from the skin and tap the "
    "spot on the screen so the camera focuses on it.",
    "motion_blur": "The photo is blurred by movement: hold the phone steady - rest your elbow on a "
    "table - and take the photo again.",
    "underexposure": "The photo is too dark: move to a brighter place with even light, such as near a "
    "window during the day.",
    "overexposure": "The photo is too bright: move out of direct sunlight or turn the flash off.",
    "glare": "There is shine on the skin: turn the flash off and tilt the phone slightly so lights "
    "don't reflect.",
    "noise": "The photo is grainy: take it in brighter light (grain comes from low light) and don't zoom in.",
    "jpeg_compression": "The photo has lost detail to compression: send the original photo from the "
    "camera, not a copy saved from a messaging app.",
    "low_resolution": "The photo has too little detail: use the phone's main camera at full resolution "
    "without digital zoom, and send the photo itself rather than a screenshot or a thumbnail.",
    "colour_cast": "The colours are off: take the photo in daylight or white light; avoid coloured or "
    "yellow lamps.",
    "framing": "The spot is too small or not fully in the picture: move closer so it fills about a "
    "third of the photo, centred, with all of it inside the frame.",
    "obstruction": "Something covers the spot: move fingers, hair or clothing out of the way so the "
    "whole spot and the skin around it can be seen.",
}
DEFECTS = tuple(DEFECT_INSTRUCTIONS)

#: classical check -> the defect it measures ("skin_present" is its own: no skin in view)
CHECK_DEFECT: dict[str, str] = {
    "resolution": "low_resolution",
    "focus_blur": "defocus_blur",
    "motion_blur": "motion_blur",
    "underexposure": "underexposure",
    "overexposure": "overexposure",
    "glare": "glare",
    "colour_cast": "colour_cast",
    "skin_present": "skin_present",
    "lesion_framing": "framing",
}
GATE_CHECKS = ("skin_present", "resolution", "underexposure", "overexposure")
_OPPOSITE = {"underexposure": "overexposure", "overexposure": "underexposure"}


@dataclass(frozen=True)
class ModelReading:
    """The learned model's output for one photo."""

    version: str
    retake: float  # P(retake)
    defects: Mapping[str, float]  # estimated severity per defect, 0..1


@dataclass(frozen=True)
class QualityPolicy:
    """The model's operating thresholds (from its contract: chosen on validation photos)."""

    retake: float
    defects: Mapping[str, float]

    @classmethod
    def from_thresholds(cls, thresholds: Mapping[str, float], defects: tuple[str, ...]) -> QualityPolicy:
        missing = {"retake", *(f"defect.{d}" for d in defects)} - set(thresholds)
        if missing:
            raise ValueError(f"quality model contract lacks thresholds {sorted(missing)}")
        return cls(retake=thresholds["retake"], defects={d: thresholds[f"defect.{d}"] for d in defects})


@dataclass(frozen=True)
class QualityVerdict:
    verdict: Verdict
    score: float
    defects: tuple[str, ...]  # what is wrong, most important first
    instructions: tuple[str, ...]


def _instruction(defect: str, report: QualityReport) -> str:
    check = report.checks.get("lesion_framing")
    if defect == "framing" and check is not None and check.instruction:
        return check.instruction  # the check knows which: move closer, or centre the spot
    if defect in DEFECT_INSTRUCTIONS:
        return DEFECT_INSTRUCTIONS[defect]
    name = next(c for c, d in CHECK_DEFECT.items() if d == defect)
    return report.checks[name].instruction or ""


def _model_quality(p_retake: float, threshold: float) -> float:
    """P(retake) -> quality in [0, 1], its threshold -> 0.5, monotone decreasing."""
    if p_retake >= threshold:
        return 0.5 * (1.0 - p_retake) / max(1e-9, 1.0 - threshold)
    return 0.5 + 0.5 * (threshold - p_retake) / max(1e-9, threshold)


def _gate_quality(report: QualityReport) -> float:
    worst = 1.0
    for name in GATE_CHECKS:
        c = report.checks[name]
        t = c.threshold
        q = 0.5 * c.score / t if c.score < t else 0.5 + 0.5 * (c.score - t) / max(1e-9, 1.0 - t)
        worst = min(worst, q)
    return worst


def combine(report: QualityReport, reading: ModelReading, policy: QualityPolicy) -> QualityVerdict:
    failing = [name for name in IMPORTANCE if not report.checks[name].passed]
    gates = [n for n in failing if n in GATE_CHECKS]
    retake = bool(gates) or reading.retake >= policy.retake
    score = _model_quality(reading.retake, policy.retake)
    if gates:
        score = min(score, _gate_quality(report))
    if not retake:  # a usable photo: nothing to ask of the patient
        return QualityVerdict(
            verdict=Verdict.accept, score=round(max(score, 0.5), 3), defects=(), instructions=()
        )

    ranked: list[str] = ["low_resolution"] if "resolution" in gates else []
    top = max(DEFECTS, key=lambda d: reading.defects.get(d, 0.0))
    # the exposure checks measure brightness exactly: when one fails and the model reads the opposite
    # (a photo far from anything it learned), the measurement wins
    ranked += [g for g in gates if _OPPOSITE.get(g) == top]
    ranked.append(top)
    over = [d for d in DEFECTS if reading.defects.get(d, 0.0) >= policy.defects[d]]
    ranked += sorted(over, key=lambda d: -reading.defects[d])
    ranked += [CHECK_DEFECT[n] for n in gates] + [CHECK_DEFECT[n] for n in failing if n not in GATE_CHECKS]
    defects = tuple(dict.fromkeys(ranked))
    instructions = tuple(dict.fromkeys(_instruction(d, report) for d in defects))
    return QualityVerdict(
        verdict=Verdict.retake, score=round(min(score, 0.499), 3), defects=defects, instructions=instructions
    )


def classical_verdict(report: QualityReport) -> QualityVerdict:
    """The checks alone (no model loaded): every failing check decides, in ``IMPORTANCE`` order."""
    failing = [n for n in IMPORTANCE if not report.checks[n].passed]
    return QualityVerdict(
        verdict=report.verdict,
        score=report.score,
        defects=tuple(dict.fromkeys(CHECK_DEFECT[n] for n in failing)),
        instructions=tuple(report.instructions),
    )

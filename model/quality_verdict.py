"""One photo's quality verdict from the classical checks, the learned quality model and the photo's
modality (pure). Two questions, answered apart:

* **readable** - can a dermatologist read the photo at all? Not below the floors of
  ``UNREADABLE_FLOORS`` (a few pixels, nearly black, fully smeared, no skin colour at all) or when the
  modality is ``not_skin``. Only an unreadable photo can hold a case back (``model.triage.decision``).
  ``not_skin`` and "no skin" are not trusted when an exposure check fails or the model names a
  distortion (``DISTORTIONS``: a cast, heavy compression...): such a photo shows skin, badly.
* **verdict** - could it be better? "retake" (a better photo is requested; a readable photo is still
  read and its case queued) when it is unreadable, when the model's P(retake) reaches its threshold
  *and* the model names a defect at or above that defect's threshold, or when a *gate* check fails
  (``GATE_CHECKS``: resolution, too dark, washed out - the last only when the model reads over-exposure
  too). The other checks (sharpness, glare, colour, skin, framing) flag a few percent of real clinical
  photos each, so they inform the instructions but never decide alone. A dermoscopic image is judged
  on sharpness and exposure only (``_dermoscopic``): never on its colours.
* **defects**: what is wrong, most important first, at most ``MAX_INSTRUCTIONS``: why it cannot be
  read; a failing resolution floor (a fact about the file, which no other change fixes); the model's
  most likely defect (unless a failing exposure check says the opposite), its other defects at or above
  their thresholds, worst first; then the failing gates and checks. One exposure defect at most.
* **instructions**: one action per defect, in that order, from ``model.messages`` in the patient's
  language.
* **score** in [0, 1]: the model's quality (P(retake) mapped so that its threshold is 0.5), lowered to
  the gates' score when a gate fails or the photo is unreadable; ``score >= 0.5`` exactly when the
  verdict is "accept".

Without a model, ``classical_verdict`` lets every failing check ask for a better photo, with the same
floors deciding readability.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from model.messages import DEFECT_MESSAGE_IDS, message
from model.quality_checks import IMPORTANCE, INSTRUCTION_CENTRE, QualityReport, Verdict

#: the defects the learned model knows (the names of ``data_pipelines.degrade.Defect``), each with its
#: patient instruction in ``model.messages``
DEFECTS = tuple(d for d in DEFECT_MESSAGE_IDS if d != "skin_present")

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
#: checks whose failure asks for a better photo on their own: limits measured directly that almost never
#: fail a readable photo (too few pixels, nearly black, washed out). "skin_present" is advisory: its
#: skin-colour model misfires on real clinical photos (strong casts, close-ups of dark lesions);
#: a photo with no skin at all is unreadable (``unreadable_causes``) or ``not_skin``.
GATE_CHECKS = ("resolution", "underexposure", "overexposure")
_OPPOSITE = {"underexposure": "overexposure", "overexposure": "underexposure"}
_EXPOSURE = frozenset(_OPPOSITE)
#: at most this many instructions reach the patient (most important first)
MAX_INSTRUCTIONS = 2

#: Floors below which a photo cannot be read at all (it holds a case back unless the case looks
#: dangerous). Chosen on the 1,050 PAD-UFES-20 train-patient photos, untouched and under harmless
#: changes (JPEG q95/q70, 90° rotation, brightness ±10 %: 6,300 images), far below what they show
#: (``python bench/quality_gate.py --split train``): the smallest short side there is 167 px, the lowest
#: brightness score 0.82, the lowest focus score 0.41, the lowest skin score 0.015 untouched (0.0 for one
#: brightened photo); with the modality, 0.1 % of the untouched photos and at most 0.2 % per change are
#: unreadable. Washed-out photos are not a floor: 22 of the brightened
#: untouched photos clip half their pixels and are still read; they get a retake *request*.
#: cause -> (check, or "short_side" of the photo as sent; floor; the defect named)
UNREADABLE_FLOORS: dict[str, tuple[str, float, str]] = {
    "too_few_pixels": ("short_side", 64, "low_resolution"),
    "nearly_black": ("underexposure", 0.1, "underexposure"),
    "smeared": ("focus_blur", 0.1, "defocus_blur"),
    "no_skin": ("skin_present", 0.001, "skin_present"),
}
#: modalities (``model.modality``) that change the verdict
NOT_SKIN = "not_skin"
DERMOSCOPIC = "dermoscopic"
#: a dermoscopic image is judged on what a dermatoscope can get wrong, never on colour or skin model
DERMOSCOPIC_CHECKS = ("focus_blur", "motion_blur", "underexposure", "overexposure")


#: defects that change a photo's colours or texture so much that the modality classifier and the skin
#: model stop recognising skin: when the learned model names one, the photo is a distorted photo of skin
#: (heavy compression, for one, leaves the flat blocks of a graphic), and that defect is what to fix
DISTORTIONS = ("colour_cast", "jpeg_compression", "noise", "low_resolution")


def trusted_modality(report: QualityReport, modality: str | None, *, distorted: bool = False) -> str | None:
    """The modality as the verdict uses it: ``not_skin`` is not trusted while an exposure check fails
    (the modality classifier judges colours, and a dark or washed-out photo of skin has none) or while
    the learned model names a distortion (``distorted``; ``DISTORTIONS``). Such a photo is judged as a
    clinical one, and what spoils it is named."""
    exposure_fails = any(not report.checks[name].passed for name in _EXPOSURE)
    return "clinical" if modality == NOT_SKIN and (exposure_fails or distorted) else modality


def _distorted(reading: ModelReading, policy: QualityPolicy) -> bool:
    return any(reading.defects.get(d, 0.0) >= policy.defects.get(d, 1.0) for d in DISTORTIONS)


def unreadable_causes(
    report: QualityReport,
    *,
    original_size: tuple[int, int],
    modality: str | None = None,
    distorted: bool = False,
) -> list[str]:
    """Why a photo cannot be read at all (empty when it can): ``UNREADABLE_FLOORS`` and ``not_skin``.
    ``distorted``: the model names a distortion (``DISTORTIONS``), which explains a missing skin colour."""
    causes = []
    for cause, (check, floor, _) in UNREADABLE_FLOORS.items():
        if cause == "no_skin" and (distorted or modality in (NOT_SKIN, DERMOSCOPIC)):
            continue  # explained / said below / a dermatoscope's field is not judged by a skin model
        if cause in ("smeared", "no_skin") and "nearly_black" in causes:
            continue  # sharpness and colour cannot be judged in the dark: the light is what to fix
        value = min(original_size) if check == "short_side" else report.checks[check].score
        if value < floor:
            causes.append(cause)
    if modality == NOT_SKIN:  # after "too few pixels": a few pixels say nothing of what they show
        causes.insert(1 if causes[:1] == ["too_few_pixels"] else 0, NOT_SKIN)
    return causes


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
    defects: tuple[str, ...]  # what is wrong, most important first (at most ``MAX_INSTRUCTIONS``)
    instructions: tuple[str, ...]  # one per defect, in the patient's language
    #: the photo can be read at all (False only with verdict "retake")
    readable: bool = True
    #: the modality the verdict used (``trusted_modality``)
    modality: str | None = None


def _message_id(defect: str, report: QualityReport) -> str:
    if defect == NOT_SKIN:
        return "quality.not_skin"
    check = report.checks.get("lesion_framing")
    if defect == "framing" and check is not None and check.instruction == INSTRUCTION_CENTRE:
        return "quality.framing.centre"  # the check knows which: move closer, or centre the spot
    return DEFECT_MESSAGE_IDS[defect]


def _patient_defects(ranked: list[str]) -> tuple[str, ...]:
    """Duplicates dropped, one exposure defect at most (the first named), at most ``MAX_INSTRUCTIONS``."""
    out: list[str] = []
    for d in ranked:
        if d in out or (d in _EXPOSURE and _OPPOSITE[d] in out):
            continue
        out.append(d)
    return tuple(out[:MAX_INSTRUCTIONS])


def _finish(
    verdict: Verdict,
    score: float,
    ranked: list[str],
    report: QualityReport,
    locale: str | None,
    readable: bool,
    modality: str | None,
) -> QualityVerdict:
    if verdict is Verdict.accept:
        return QualityVerdict(
            verdict=verdict, score=round(max(score, 0.5), 3), defects=(), instructions=(), modality=modality
        )
    defects = _patient_defects(ranked)
    instructions = tuple(dict.fromkeys(message(_message_id(d, report), locale) for d in defects))
    return QualityVerdict(
        verdict=verdict,
        score=round(min(score, 0.499), 3),
        defects=defects,
        instructions=instructions,
        readable=readable,
        modality=modality,
    )


def _model_quality(p_retake: float, threshold: float) -> float:
    """P(retake) -> quality in [0, 1], its threshold -> 0.5, monotone decreasing."""
    if p_retake >= threshold:
        return 0.5 * (1.0 - p_retake) / max(1e-9, 1.0 - threshold)
    return 0.5 + 0.5 * (threshold - p_retake) / max(1e-9, threshold)


def _checks_quality(report: QualityReport, names: tuple[str, ...]) -> float:
    worst = 1.0
    for name in names:
        c = report.checks[name]
        t = c.threshold
        q = 0.5 * c.score / t if c.score < t else 0.5 + 0.5 * (c.score - t) / max(1e-9, 1.0 - t)
        worst = min(worst, q)
    return worst


#: the overexposure check sends a photo back on its own only when the learned model reads over-exposure
#: at this multiple of its threshold or more: PAD-UFES-20 photos are bright, and 10 % more brightness
#: clips a quarter of many of them (the check alone then failed 5.1 % of the brightened train photos;
#: corroborated at 2x, 1.3 %, while 92 % of the moderate/severe over-exposed ones are still sent back,
#: against 94 %: ``bench/quality_gate.py --split train``)
OVEREXPOSURE_CORROBORATION = 2.0


def _gate_holds(check: str, reading: ModelReading, policy: QualityPolicy) -> bool:
    if check != "overexposure":
        return True
    threshold = policy.defects.get("overexposure", 0.0)
    return reading.defects.get("overexposure", 0.0) >= OVEREXPOSURE_CORROBORATION * threshold


def _ranked(causes: list[str], rest: list[str]) -> list[str]:
    """Why the photo cannot be read first, then ``rest``; nothing else for a nearly black photo (what
    the checks and the model say of a dark frame is noise: the light is what to fix)."""
    first = [NOT_SKIN if c == NOT_SKIN else UNREADABLE_FLOORS[c][2] for c in causes]
    return first if "nearly_black" in causes else first + rest


def combine(
    report: QualityReport,
    reading: ModelReading,
    policy: QualityPolicy,
    *,
    original_size: tuple[int, int] | None = None,
    modality: str | None = None,
    locale: str | None = None,
) -> QualityVerdict:
    """The service's verdict on one photo (module docs). ``original_size``: (width, height) of the
    photo as sent (default: large enough); ``modality``: ``model.modality``'s kind; ``locale``: the
    language of the instructions."""
    size = original_size or (4096, 4096)
    distorted = _distorted(reading, policy)  # e.g. a strong cast takes every colour out of the skin range
    modality = trusted_modality(report, modality, distorted=distorted)
    causes = unreadable_causes(report, original_size=size, modality=modality, distorted=distorted)
    if modality == DERMOSCOPIC:
        return _dermoscopic(report, causes, locale)
    failing = [name for name in IMPORTANCE if not report.checks[name].passed]
    gates = [n for n in failing if n in GATE_CHECKS and _gate_holds(n, reading, policy)]
    over = [d for d in DEFECTS if reading.defects.get(d, 0.0) >= policy.defects[d]]
    # the model asks for a retake only when it can name what to fix: a defect at or above its threshold
    model_retake = reading.retake >= policy.retake and bool(over)
    retake = bool(causes) or bool(gates) or model_retake
    score = _model_quality(reading.retake, policy.retake)
    if gates or causes:
        score = min(score, _checks_quality(report, GATE_CHECKS))
    elif not model_retake:
        score = max(score, 0.5)  # P(retake) high but no defect named: accepted
    if not retake:  # a good photo: nothing to ask of the patient
        return _finish(Verdict.accept, score, [], report, locale, True, modality)

    rest = ["low_resolution"] if "resolution" in gates else []
    top = max(DEFECTS, key=lambda d: reading.defects.get(d, 0.0))
    # the exposure checks measure brightness exactly: when one fails and the model reads the opposite
    # (a photo far from anything it learned), the measurement wins (``_patient_defects`` then drops the
    # model's opposite reading)
    rest += [g for g in gates if _OPPOSITE.get(g) == top]
    rest.append(top)
    rest += sorted(over, key=lambda d: -reading.defects[d])
    rest += [CHECK_DEFECT[n] for n in gates] + [CHECK_DEFECT[n] for n in failing if n not in GATE_CHECKS]
    return _finish(Verdict.retake, score, _ranked(causes, rest), report, locale, not causes, modality)


def _dermoscopic(report: QualityReport, causes: list[str], locale: str | None) -> QualityVerdict:
    """A dermatoscope's image: retake only when it cannot be read, or is blurred or badly exposed (the
    learned model and the colour/skin checks know phone photos only)."""
    failing = [n for n in DERMOSCOPIC_CHECKS if not report.checks[n].passed]
    score = _checks_quality(report, DERMOSCOPIC_CHECKS)
    if not causes and not failing:
        return _finish(Verdict.accept, score, [], report, locale, True, DERMOSCOPIC)
    ranked = _ranked(causes, [CHECK_DEFECT[n] for n in failing])
    return _finish(Verdict.retake, score, ranked, report, locale, not causes, DERMOSCOPIC)


def classical_verdict(
    report: QualityReport,
    *,
    original_size: tuple[int, int] | None = None,
    modality: str | None = None,
    locale: str | None = None,
) -> QualityVerdict:
    """The checks alone (no model loaded): every failing check asks for a better photo, in
    ``IMPORTANCE`` order; the same floors decide whether the photo can be read at all."""
    modality = trusted_modality(report, modality)
    causes = unreadable_causes(report, original_size=original_size or (4096, 4096), modality=modality)
    if modality == DERMOSCOPIC:
        return _dermoscopic(report, causes, locale)
    failing = [n for n in IMPORTANCE if not report.checks[n].passed]
    verdict = Verdict.retake if causes or failing else Verdict.accept
    ranked = _ranked(causes, [CHECK_DEFECT[n] for n in failing])
    return _finish(verdict, report.score, ranked, report, locale, not causes, modality)

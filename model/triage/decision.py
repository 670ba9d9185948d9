"""Combine the rule-based assessment, an optional learned model and the photo verdicts into the
triage returned to the intake system.

Safety properties:

* the rules can only RAISE the model's tier (tier = most severe of the two);
* the score never disagrees with the tier (``tier_for_score(urgency_score) == tier``);
* an EMERGENCY never waits for photos and always carries the emergency advice;
* a case that looks dangerous never waits unseen for a retake: without a readable photo it is held
  back (``holds_case``) only when its tier is below PRIORITY.

Two photo questions are kept apart. *Can a photo be read at all?* (``photo_readable``): without one
readable photo the case has nothing a dermatologist could judge (``retake_required``). *Could it be
better?* (``photo_verdicts``): when readable photos exist but none was accepted, a better photo is
requested (``better_photo_requested``) and the case goes on with its tier.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from model.quality_checks import Verdict
from model.triage.care_setting import CareSetting, CareSettingAssessment
from model.triage.red_flags import TIER_PATIENT_ADVICE
from model.triage.tiers import Tier, most_severe
from model.triage.urgency import UrgencyAssessment, fit_to_band, tier_for_score

RETAKE_REASON = "No readable photo yet: the case waits for a retake"
QUEUED_WITHOUT_PHOTO_REASON = (
    "No readable photo yet: a retake is requested, and the case is queued now because its tier is "
    "PRIORITY or higher"
)
BETTER_PHOTO_REASON = "Better photo requested: the photos can be read but could be better"
#: the least severe tier at which a case without a readable photo is queued all the same
QUEUE_WITHOUT_PHOTO_FROM = Tier.PRIORITY


@dataclass(frozen=True)
class ModelUrgency:
    """What a learned image + questionnaire model provides."""

    score: float
    tier: Tier
    version: str
    reasons: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.score, bool) or not isinstance(self.score, int | float):
            raise ValueError(f"model score must be a number, got {self.score!r}")
        if not math.isfinite(self.score) or not 0.0 <= self.score <= 1.0:
            raise ValueError(f"model score must be in [0, 1], got {self.score}")
        if not isinstance(self.tier, Tier):
            raise ValueError(f"model tier must be a Tier, got {self.tier!r}")
        if not self.version:
            raise ValueError("model version is required")


@dataclass(frozen=True)
class TriageDecision:
    tier: Tier
    urgency_score: float
    retake_required: bool
    reasons: tuple[str, ...]
    patient_advice: tuple[str, ...]
    #: Rule ids that fired (audit trail).
    fired: tuple[str, ...] = ()
    #: The learned model's version, when one contributed.
    model_version: str | None = None
    #: Readable photos exist but none was accepted: a retake is asked for, the case goes on.
    better_photo_requested: bool = False
    #: Where care should happen (``model.triage.care_setting``): set by ``TriageEngine.decide`` on every
    #: triage, with the reasons of the rules that set it and every care rule that fired.
    care_setting: CareSetting | None = None
    care_setting_reasons: tuple[str, ...] = ()
    care_fired: tuple[str, ...] = ()

    def with_care_setting(self, care: CareSettingAssessment) -> TriageDecision:
        """This decision with its care setting, the setting's sentence added to the patient advice."""
        return dataclasses.replace(
            self,
            care_setting=care.setting,
            care_setting_reasons=care.reasons,
            care_fired=care.fired,
            patient_advice=_unique([*self.patient_advice, *care.patient_advice]),
        )

    @property
    def holds_case(self) -> bool:
        """The case waits for a retake out of the queue: no readable photo, and a tier below PRIORITY."""
        return self.retake_required and self.tier < QUEUE_WITHOUT_PHOTO_FROM


def decide(
    *,
    rules: UrgencyAssessment,
    model: ModelUrgency | None,
    photo_verdicts: Sequence[str],
    photo_readable: Sequence[bool] | None = None,
    floors: Sequence[tuple[Tier, str]] = (),
) -> TriageDecision:
    """The triage for one case. Pure and deterministic.

    ``photo_readable``: whether each photo can be read at all (default: the accepted ones).
    ``floors``: (tier, reason) pairs that raise the tier to at least ``tier`` (a photo outside the
    model's validated domain, for one)."""
    if isinstance(photo_verdicts, str | bytes):
        raise TypeError("photo_verdicts must be a sequence of verdicts, not a single string")
    accepted = [verdict == Verdict.accept for verdict in photo_verdicts]
    readable = list(accepted if photo_readable is None else photo_readable)
    if len(readable) != len(accepted):
        raise ValueError("photo_readable must have one entry per photo verdict")

    if model is None:
        tier, score = rules.tier, rules.score
        model_reasons: tuple[str, ...] = ()
    else:
        # A model whose score lies above its own tier's band is taken at the more severe reading.
        tier = most_severe(model.tier, rules.tier, tier_for_score(model.score))
        # Raised to the final tier's floor when the rules (or the model's tier) are more severe.
        score = fit_to_band(tier, model.score)
        model_reasons = model.reasons
        if tier > rules.tier and not model_reasons:
            model_reasons = (f"Image and questionnaire model {model.version} rated the case {tier.value}",)

    floor_reasons = []
    for floor, reason in floors:
        if floor > tier:
            tier, score = floor, fit_to_band(floor, score)
        floor_reasons.append(reason)

    retake_required = not any(readable)
    better_photo = not retake_required and not any(accepted)
    reasons = list(_unique([*rules.reasons, *model_reasons, *floor_reasons]))
    if retake_required and tier is not Tier.EMERGENCY:
        reasons.append(RETAKE_REASON if tier < QUEUE_WITHOUT_PHOTO_FROM else QUEUED_WITHOUT_PHOTO_REASON)
    if better_photo:
        reasons.append(BETTER_PHOTO_REASON)

    # When the model raised the tier, the rules' advice was written for a less severe case.
    advice = rules.patient_advice if tier is rules.tier else ()
    if tier in TIER_PATIENT_ADVICE:
        advice = _unique([TIER_PATIENT_ADVICE[tier], *advice])

    return TriageDecision(
        tier=tier,
        urgency_score=score,
        retake_required=retake_required,
        reasons=tuple(reasons),
        patient_advice=tuple(advice),
        fired=rules.fired,
        model_version=None if model is None else model.version,
        better_photo_requested=better_photo,
    )


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))

"""Rule-based urgency: the questionnaire's red flags -> tier, score, reasons and patient advice.

The score lives in a band per tier (``TIER_SCORE_BANDS``) so that score and tier never disagree:
``tier_for_score(assess_urgency(q).score) == assess_urgency(q).tier``. Within the band, more
signals (all fired rules, of any tier, plus risk factors) give a higher score:

    score = floor + width * (1 - prod(1 - w_i))

capped strictly below the next band's floor. A learned model uses the same bands.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from types import MappingProxyType

from model.questionnaire import Questionnaire
from model.triage.red_flags import fired_rules, present_risk_factors
from model.triage.tiers import Tier

#: Score band per tier: ``(floor, ceiling)``; a score s is in the band when floor <= s < ceiling
#: (EMERGENCY includes 1.0).
TIER_SCORE_BANDS: MappingProxyType[Tier, tuple[float, float]] = MappingProxyType(
    {
        Tier.ROUTINE: (0.0, 0.4),
        Tier.PRIORITY: (0.4, 0.7),
        Tier.URGENT: (0.7, 0.9),
        Tier.EMERGENCY: (0.9, 1.0),
    }
)

#: Scores are reported with this many decimals.
SCORE_DECIMALS = 3
_STEP = 10.0**-SCORE_DECIMALS

NO_RED_FLAGS_REASON = "No red-flag symptoms reported"


def band_floor(tier: Tier | str) -> float:
    return TIER_SCORE_BANDS[Tier(tier)][0]


def tier_for_score(score: float) -> Tier:
    """The tier whose band contains ``score`` (0..1)."""
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
        raise ValueError(f"score must be a finite number, got {score!r}")
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"score must be in [0, 1], got {score}")
    for tier in Tier.by_severity():
        if score >= band_floor(tier):
            return tier
    raise AssertionError("unreachable: the ROUTINE band starts at 0")


def fit_to_band(tier: Tier, score: float) -> float:
    """``score`` rounded to ``SCORE_DECIMALS`` and clamped into ``tier``'s band (below the next floor)."""
    floor, ceiling = TIER_SCORE_BANDS[tier]
    score = round(score, SCORE_DECIMALS)
    if tier is not Tier.EMERGENCY:
        score = min(score, round(ceiling - _STEP, SCORE_DECIMALS))
    return min(max(score, floor), 1.0)


def score_in_band(tier: Tier, strength: float) -> float:
    """Map a signal strength in [0, 1] into ``tier``'s band."""
    floor, ceiling = TIER_SCORE_BANDS[tier]
    strength = min(max(strength, 0.0), 1.0)
    return fit_to_band(tier, floor + (ceiling - floor) * strength)


def combine_weights(weights: list[float] | tuple[float, ...]) -> float:
    """Noisy-OR: 1 - prod(1 - w). Adding a weight never lowers the result."""
    remaining = 1.0
    for weight in weights:
        remaining *= 1.0 - weight
    return 1.0 - remaining


@dataclass(frozen=True)
class UrgencyAssessment:
    tier: Tier
    score: float
    reasons: tuple[str, ...]
    patient_advice: tuple[str, ...]
    fired: tuple[str, ...]
    source: str = "rules"
    #: Risk factors that raised the score within the band (ids from ``red_flags.RISK_FACTORS``).
    risk_factors: tuple[str, ...] = ()


def assess_urgency(q: Questionnaire) -> UrgencyAssessment:
    """Apply the red-flag table to a questionnaire. Pure and deterministic."""
    rules = fired_rules(q)
    factors = present_risk_factors(q)
    tier = rules[0].tier if rules else Tier.ROUTINE
    strength = combine_weights([rule.weight for rule in rules] + [factor.weight for factor in factors])
    reasons = _unique(rule.reason for rule in rules) or (NO_RED_FLAGS_REASON,)
    # Only the most severe tier's advice: "go to the ER now" and "wait for review" must not mix.
    advice = _unique(rule.patient_advice for rule in rules if rule.tier is tier and rule.patient_advice)
    return UrgencyAssessment(
        tier=tier,
        score=score_in_band(tier, strength),
        reasons=reasons,
        patient_advice=advice,
        fired=tuple(rule.id for rule in rules),
        source="rules",
        risk_factors=tuple(factor.id for factor in factors),
    )


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))

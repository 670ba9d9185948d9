"""Deterministic triage core: red-flag rules, urgency score, tiers, SLA, the final decision and where
care should happen (the care-setting rules).

Pure functions only (no I/O), so the intake API, the queue and offline evaluation share them.
"""

from model.triage.care_setting import (
    CARE_RULES,
    CARE_RULES_VERSION,
    CareRule,
    CareSetting,
    TriageReading,
    assess_care_setting,
)
from model.triage.decision import ModelUrgency, TriageDecision, decide
from model.triage.red_flags import (
    EMERGENCY_ADVICE,
    RED_FLAG_RULES,
    RISK_FACTORS,
    RULES_BY_ID,
    RULES_VERSION,
    URGENT_ADVICE,
    RedFlagRule,
    RiskFactor,
)
from model.triage.tiers import Tier, most_severe
from model.triage.urgency import TIER_SCORE_BANDS, UrgencyAssessment, assess_urgency, tier_for_score

__all__ = [
    "CARE_RULES",
    "CARE_RULES_VERSION",
    "EMERGENCY_ADVICE",
    "RED_FLAG_RULES",
    "RISK_FACTORS",
    "RULES_BY_ID",
    "RULES_VERSION",
    "TIER_SCORE_BANDS",
    "URGENT_ADVICE",
    "CareRule",
    "CareSetting",
    "ModelUrgency",
    "RedFlagRule",
    "RiskFactor",
    "Tier",
    "TriageDecision",
    "TriageReading",
    "UrgencyAssessment",
    "assess_care_setting",
    "assess_urgency",
    "decide",
    "most_severe",
    "tier_for_score",
]

"""Deterministic triage core: red-flag rules, urgency score, tiers, SLA and the final decision.

Pure functions only (no I/O), so the intake API, the queue and offline evaluation share them.
"""

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
    "EMERGENCY_ADVICE",
    "RED_FLAG_RULES",
    "RISK_FACTORS",
    "RULES_BY_ID",
    "RULES_VERSION",
    "TIER_SCORE_BANDS",
    "URGENT_ADVICE",
    "ModelUrgency",
    "RedFlagRule",
    "RiskFactor",
    "Tier",
    "TriageDecision",
    "UrgencyAssessment",
    "assess_urgency",
    "decide",
    "most_severe",
    "tier_for_score",
]

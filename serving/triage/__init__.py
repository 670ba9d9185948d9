"""Deterministic triage core: red-flag rules, urgency score, tiers, SLA and the final decision.

Pure functions only (no I/O), so the intake API, the queue and offline evaluation share them.
"""

from serving.triage.decision import ModelUrgency, TriageDecision, decide
from serving.triage.red_flags import (
    EMERGENCY_ADVICE,
    RED_FLAG_RULES,
    RISK_FACTORS,
    RULES_BY_ID,
    RULES_VERSION,
    URGENT_ADVICE,
    RedFlagRule,
    RiskFactor,
)
from serving.triage.tiers import SlaPolicy, Tier, most_severe
from serving.triage.urgency import TIER_SCORE_BANDS, UrgencyAssessment, assess_urgency, tier_for_score

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
    "SlaPolicy",
    "Tier",
    "TriageDecision",
    "UrgencyAssessment",
    "assess_urgency",
    "decide",
    "most_severe",
    "tier_for_score",
]

"""The clinical red-flag rules: a table a dermatologist can review line by line.

Each rule names the tier it implies, a weight (its contribution to the urgency score within
the tier's band), a predicate over the questionnaire, a clinician-facing reason and, where the
patient must act, a patient-facing sentence.

Conventions (enforced by the helpers below and checked by the tests):

* An unanswered question (``None``) counts as "not reported", never as yes: a predicate only
  fires on an explicit ``True`` / a known number.
* Predicates only ever require answers to be *present* (no "and not X"): answering one more
  question "yes" can add rules, never remove one, so the tier and score never drop.
* A rule marked "alone" fires whenever its symptom is present; combinations that are more
  serious have their own, more severe rule and the most severe fired rule sets the tier.

The rules can only RAISE a tier: ``decision.decide`` takes the most severe of the rules' tier
and a learned model's tier.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from model.questionnaire import Questionnaire
from model.triage.tiers import Tier

#: Bump whenever a rule, weight, reason or advice below changes (stored with every triage).
RULES_VERSION = "red-flags-1"

EMERGENCY_ADVICE = (
    "Seek in-person emergency care now: go to an emergency department or call your local emergency "
    "number. Do not wait for the online review."
)
URGENT_ADVICE = (
    "Your case is marked urgent and a dermatologist will review it as soon as possible. If you get "
    "worse before then (fever, severe pain, redness spreading fast, blisters, or sores in the mouth, "
    "eyes or genitals), seek in-person emergency care without waiting."
)

#: The advice every case of a tier must carry (a learned model may set the tier on its own).
TIER_PATIENT_ADVICE: dict[Tier, str] = {Tier.EMERGENCY: EMERGENCY_ADVICE, Tier.URGENT: URGENT_ADVICE}


# --- predicate helpers: None (unknown) is never "yes", an unknown number never passes a test ---


def yes(*answers: bool | None) -> bool:
    """All the answers are an explicit yes."""
    return all(answer is True for answer in answers)


def any_yes(*answers: bool | None) -> bool:
    """At least one answer is an explicit yes."""
    return any(answer is True for answer in answers)


def at_least(value: float | None, limit: float) -> bool:
    return value is not None and value >= limit


def below(value: float | None, limit: float) -> bool:
    return value is not None and value < limit


def changing(q: Questionnaire) -> bool:
    """The lesion grew or changed (the "E" of ABCDE)."""
    return any_yes(q.grew, q.changed)


Predicate = Callable[[Questionnaire], bool]

_RULE_ID = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


@dataclass(frozen=True)
class RedFlagRule:
    id: str
    tier: Tier
    weight: float
    when: Predicate
    reason: str
    patient_advice: str | None = None

    def __post_init__(self) -> None:
        if not _RULE_ID.match(self.id):
            raise ValueError(f"rule id {self.id!r} must be snake_case")
        if not isinstance(self.tier, Tier):
            raise ValueError(f"rule {self.id}: tier must be a Tier")
        if not 0.0 < self.weight < 1.0:
            raise ValueError(f"rule {self.id}: weight must be in (0, 1), got {self.weight}")
        if not self.reason.strip():
            raise ValueError(f"rule {self.id}: reason is empty")
        if self.tier in TIER_PATIENT_ADVICE and self.patient_advice != TIER_PATIENT_ADVICE[self.tier]:
            raise ValueError(f"rule {self.id}: a {self.tier.value} rule must carry its tier's advice")

    def fires(self, q: Questionnaire) -> bool:
        return bool(self.when(q))


@dataclass(frozen=True)
class RiskFactor:
    """Raises the score within the tier's band; never sets a tier or a reason on its own."""

    id: str
    weight: float
    when: Predicate
    description: str

    def __post_init__(self) -> None:
        if not _RULE_ID.match(self.id):
            raise ValueError(f"risk factor id {self.id!r} must be snake_case")
        if not 0.0 < self.weight < 1.0:
            raise ValueError(f"risk factor {self.id}: weight must be in (0, 1), got {self.weight}")


E, U, P = Tier.EMERGENCY, Tier.URGENT, Tier.PRIORITY

# fmt: off
RED_FLAG_RULES: tuple[RedFlagRule, ...] = (
    # ---------------------------------------------------------------- EMERGENCY: act now, in person
    # Fever + fast-spreading rash: cellulitis with sepsis, necrotizing fasciitis, DRESS; hours matter.
    RedFlagRule("fever_spreading_rash", E, 0.90,
                lambda q: yes(q.fever, q.spreading_rapidly),
                "Fever with a rapidly spreading rash: possible severe skin infection (cellulitis, "
                "necrotizing infection) or severe drug reaction",
                EMERGENCY_ADVICE),
    # Blisters/peeling skin + mouth/eye/genital erosions: SJS/TEN until proven otherwise.
    RedFlagRule("blistering_mucosal", E, 0.95,
                lambda q: yes(q.blistering_or_peeling, q.mucosal_involvement),
                "Blistering or peeling skin with mucosal involvement: possible Stevens-Johnson "
                "syndrome / toxic epidermal necrolysis",
                EMERGENCY_ADVICE),
    # Blisters/peeling + fever: SJS/TEN, staphylococcal scalded skin syndrome, disseminated infection.
    RedFlagRule("blistering_fever", E, 0.90,
                lambda q: yes(q.blistering_or_peeling, q.fever),
                "Blistering or peeling skin with fever: possible SJS/TEN or staphylococcal scalded "
                "skin syndrome",
                EMERGENCY_ADVICE),
    # Fever + mouth/eye/genital sores: the SJS/TEN prodrome often precedes skin detachment by days.
    RedFlagRule("fever_mucosal", E, 0.85,
                lambda q: yes(q.fever, q.mucosal_involvement),
                "Fever with mucosal involvement: possible early Stevens-Johnson syndrome (mucositis "
                "often precedes skin detachment) or another severe mucocutaneous reaction",
                EMERGENCY_ADVICE),

    # ------------------------------------------------------------------- URGENT: review within hours
    # A bleeding lesion that grew or changed: classic presentation of melanoma, SCC or BCC.
    RedFlagRule("bleeding_changing_lesion", U, 0.75,
                lambda q: yes(q.bleeding) and changing(q),
                "Bleeding lesion that grew or changed: possible skin cancer",
                URGENT_ADVICE),
    # Raised lesion growing over weeks: nodular melanoma, SCC or keratoacanthoma double in weeks.
    RedFlagRule("rapidly_growing_nodule", U, 0.80,
                lambda q: yes(q.elevated, q.grew) and below(q.duration_days, 90),
                "Raised lesion that grew within the last 3 months: possible nodular melanoma, "
                "squamous cell carcinoma or keratoacanthoma",
                URGENT_ADVICE),
    # Transplant / immunosuppressed: SCC is far more frequent and aggressive; infections atypical.
    RedFlagRule("immunosuppressed_changing_lesion", U, 0.70,
                lambda q: yes(q.immunosuppressed) and any_yes(q.grew, q.changed, q.bleeding),
                "Growing, changing or bleeding lesion in an immunosuppressed patient: high risk of "
                "aggressive skin cancer or atypical infection",
                URGENT_ADVICE),
    # Fever when immunosuppressed: skin may be the first sign of disseminated infection.
    RedFlagRule("fever_immunosuppressed", U, 0.80,
                lambda q: yes(q.fever, q.immunosuppressed),
                "Fever in an immunosuppressed patient: possible serious or disseminated infection",
                URGENT_ADVICE),
    # Rapid spread alone: cellulitis, erysipelas, eczema herpeticum or an evolving drug eruption.
    RedFlagRule("spreading_rapidly", U, 0.65,
                lambda q: yes(q.spreading_rapidly),
                "Rapidly spreading rash or redness: possible skin infection or evolving drug eruption",
                URGENT_ADVICE),
    # Pain + rapid spread: cellulitis; pain out of proportion is an early sign of necrotizing infection.
    RedFlagRule("painful_spreading", U, 0.75,
                lambda q: yes(q.pain, q.spreading_rapidly),
                "Painful, rapidly spreading redness: possible cellulitis; severe pain can be an early "
                "sign of necrotizing infection",
                URGENT_ADVICE),
    # Mouth/eye/genital involvement alone: bullous disease, SJS onset, herpes, erythema multiforme.
    RedFlagRule("mucosal_involvement", U, 0.65,
                lambda q: yes(q.mucosal_involvement),
                "Mucosal involvement (mouth, eyes or genitals): possible early SJS, autoimmune "
                "blistering disease or erythema multiforme",
                URGENT_ADVICE),
    # Blisters in pregnancy: pemphigoid gestationis (fetal risk); eczema herpeticum.
    RedFlagRule("pregnant_blistering", U, 0.75,
                lambda q: yes(q.pregnant, q.blistering_or_peeling),
                "Blistering in pregnancy: possible pemphigoid gestationis",
                URGENT_ADVICE),

    # --------------------------------------------------------------- PRIORITY: review within a day
    # Evolution is the strongest single ABCDE sign of melanoma.
    RedFlagRule("changing_lesion", P, 0.50,
                changing,
                "Lesion that grew or changed (evolving): possible melanoma or other skin cancer"),
    # Spontaneous bleeding (without injury) is a warning sign for BCC, SCC and melanoma.
    RedFlagRule("bleeding_lesion", P, 0.45,
                lambda q: yes(q.bleeding),
                "Bleeding lesion: possible skin cancer"),
    # Prior skin cancer: high risk of a new primary or recurrence; any suspicious sign counts.
    RedFlagRule("skin_cancer_history_suspicious", P, 0.55,
                lambda q: yes(q.skin_cancer_history) and any_yes(q.grew, q.changed, q.elevated, q.bleeding),
                "Growing, changing, raised or bleeding lesion in a patient with a history of skin cancer"),
    # A new raised lesion after 50: incidence of melanoma, SCC and BCC rises steeply with age.
    RedFlagRule("new_raised_lesion_over_50", P, 0.45,
                lambda q: at_least(q.age, 50) and yes(q.elevated) and below(q.duration_days, 180),
                "New raised lesion (under 6 months) in a patient aged 50 or over: possible skin cancer"),
    # Diameter >= 6 mm and changing: the D and E of ABCDE together.
    RedFlagRule("large_changing_lesion", P, 0.55,
                lambda q: at_least(q.size_mm, 6) and yes(q.changed),
                "Changing lesion 6 mm or larger: possible melanoma"),
    # Blisters or peeling alone: bullous pemphigoid, pemphigus, bullous impetigo, drug reaction.
    RedFlagRule("blistering_or_peeling", P, 0.45,
                lambda q: yes(q.blistering_or_peeling),
                "Blistering or peeling skin: possible autoimmune blistering disease, infection or "
                "drug reaction"),
    # Fever with a skin complaint: infection or drug reaction, even without spreading or blisters.
    RedFlagRule("fever", P, 0.45,
                lambda q: yes(q.fever),
                "Fever with a skin complaint: possible infection or drug reaction"),
    # Immunosuppression alone: atypical infections and skin cancers; lower threshold to review.
    RedFlagRule("immunosuppressed", P, 0.35,
                lambda q: yes(q.immunosuppressed),
                "Immunosuppressed patient: atypical infection and skin cancer are more likely"),
)
# fmt: on

# fmt: off
RISK_FACTORS: tuple[RiskFactor, ...] = (
    # Skin cancer incidence and severe-infection risk rise with age.
    RiskFactor("risk_age_60_plus", 0.10, lambda q: at_least(q.age, 60), "Aged 60 or over"),
    # Prior skin cancer: new primaries and recurrences are common.
    RiskFactor("risk_skin_cancer_history", 0.10, lambda q: yes(q.skin_cancer_history),
               "History of skin cancer"),
    # Immunosuppression: cancers and infections are more frequent and more aggressive.
    RiskFactor("risk_immunosuppressed", 0.10, lambda q: yes(q.immunosuppressed), "Immunosuppressed"),
    # Fitzpatrick I-II with an evolving lesion: the highest melanoma risk group.
    RiskFactor("risk_fair_skin_changing_lesion", 0.10,
               lambda q: q.fitzpatrick in (1, 2) and changing(q),
               "Fitzpatrick I-II skin with a growing or changing lesion"),
)
# fmt: on

del E, U, P


def _check_tables() -> None:
    tables = (("rule", [r.id for r in RED_FLAG_RULES]), ("risk factor", [f.id for f in RISK_FACTORS]))
    for kind, ids in tables:
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate {kind} ids: {duplicates}")


_check_tables()

RULES_BY_ID: dict[str, RedFlagRule] = {rule.id: rule for rule in RED_FLAG_RULES}


def fired_rules(q: Questionnaire) -> tuple[RedFlagRule, ...]:
    """The rules that fire for ``q``: most severe tier first, then heaviest weight, then table order."""
    fired = [rule for rule in RED_FLAG_RULES if rule.fires(q)]
    return tuple(sorted(fired, key=lambda rule: (rule.tier.rank, -rule.weight)))


def present_risk_factors(q: Questionnaire) -> tuple[RiskFactor, ...]:
    return tuple(factor for factor in RISK_FACTORS if factor.when(q))

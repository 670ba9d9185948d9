"""Where the case's care should happen: a rule table a dermatologist can review line by line.

``care_setting`` is one of:

* ``emergency``: the triage tier is EMERGENCY; the patient is told to seek emergency care now;
* ``in_person_likely``: the lesion is likely to need an in-person exam or a biopsy (the review still
  happens online first; the service does not book visits);
* ``remote``: nothing suggests an in-person visit; the online review is expected to be enough.

Each rule names the setting it implies, a predicate over the questionnaire and the triage's reading
(``TriageReading``: the final tier and the urgency model's most suspicious photo) and a clinician-facing
reason. The most demanding fired setting wins (``emergency`` > ``in_person_likely`` > ``remote``), and
its rules' reasons are the care setting's reasons.

Conventions (as in ``model.triage.red_flags``, whose helpers these predicates use):

* An unanswered question (``None``) and a missing reading never fire a rule.
* Predicates only ever require answers or readings to be *present*: one more "yes" or a higher
  malignancy reading can add rules, never remove one, so the setting never becomes less demanding.

The urgency model exposes no uncertainty estimate (``model.urgency_model``: a calibrated malignancy
probability and the diagnosis probabilities only), so no rule reads one. The questionnaire has no
"pigmented" question: the age rule counts any changing lesion (lentigo maligna is flat).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from model.questionnaire import Questionnaire
from model.triage.red_flags import any_yes, at_least, changing, yes
from model.triage.tiers import Tier

#: Bump whenever a rule, threshold, reason or the advice below changes (stored with every triage).
CARE_RULES_VERSION = "care-setting-1"

#: The age from which a changing lesion is likely to need an exam (melanoma, BCC and SCC incidence
#: rises steeply from 50; the red flags' ``new_raised_lesion_over_50`` uses the same age).
OLDER_PATIENT_AGE = 50
#: The diameter from which a changed lesion is likely to need an exam (the "D" of ABCDE).
LARGE_LESION_MM = 6.0

#: The sentence added to the patient's advice when care is likely in person (model.messages
#: ``advice.in_person_likely``: translated into the patient's language). Honest: nothing is booked.
IN_PERSON_ADVICE = (
    "A dermatologist will likely want to see this spot in person; we will tell you how after the review."
)

NO_IN_PERSON_SIGNS_REASON = (
    "No sign that the lesion needs an in-person exam: the online review should suffice"
)


class CareSetting(StrEnum):
    """Where care should happen, least demanding first."""

    remote = "remote"
    in_person_likely = "in_person_likely"
    emergency = "emergency"

    @property
    def demand(self) -> int:
        """0 for remote up to 2 for emergency: higher is more demanding."""
        return _DEMAND[self]


_DEMAND: dict[CareSetting, int] = {
    CareSetting.remote: 0,
    CareSetting.in_person_likely: 1,
    CareSetting.emergency: 2,
}


@dataclass(frozen=True)
class TriageReading:
    """What the triage read beyond the questionnaire.

    ``malignancy``: the urgency model's highest malignancy probability over the case's usable photos
    (None: no photo read by a model); ``dermoscopic_malignancy``: the highest over its dermoscopic
    photos only; ``urgent`` / ``priority``: the model's thresholds (its contract's, e.g.
    ``model/artifacts/urgency.json``), None without a model."""

    tier: Tier
    malignancy: float | None = None
    dermoscopic_malignancy: float | None = None
    urgent: float | None = None
    priority: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.tier, Tier):
            raise ValueError(f"tier must be a Tier, got {self.tier!r}")
        for name in ("malignancy", "dermoscopic_malignancy", "urgent", "priority"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")


Predicate = Callable[[Questionnaire, TriageReading], bool]

_RULE_ID = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


@dataclass(frozen=True)
class CareRule:
    id: str
    setting: CareSetting
    when: Predicate
    reason: str

    def __post_init__(self) -> None:
        if not _RULE_ID.match(self.id):
            raise ValueError(f"rule id {self.id!r} must be snake_case")
        if not isinstance(self.setting, CareSetting) or self.setting is CareSetting.remote:
            raise ValueError(f"rule {self.id}: a rule raises the setting above remote")
        if not self.reason.strip():
            raise ValueError(f"rule {self.id}: reason is empty")

    def fires(self, q: Questionnaire, reading: TriageReading) -> bool:
        return bool(self.when(q, reading))


def reading_at_least(value: float | None, threshold: float | None) -> bool:
    """A model reading at or above a threshold (never when either is unknown)."""
    return value is not None and threshold is not None and value >= threshold


EM, IP = CareSetting.emergency, CareSetting.in_person_likely

# fmt: off
CARE_RULES: tuple[CareRule, ...] = (
    # EMERGENCY tier: the patient is sent to emergency care now; nothing else matters.
    CareRule("emergency_tier", EM,
             lambda q, r: r.tier is Tier.EMERGENCY,
             "Triage tier EMERGENCY: emergency care in person now"),
    # A malignancy reading at or above the model's URGENT threshold: a likely skin cancer needs a biopsy.
    CareRule("high_malignancy_reading", IP,
             lambda q, r: reading_at_least(r.malignancy, r.urgent),
             "Photo model's malignancy reading at or above its URGENT threshold: a biopsy is likely"),
    # Changing or bleeding lesion from 50: melanoma, BCC and SCC incidence rises steeply with age.
    CareRule("changing_lesion_age_50_plus", IP,
             lambda q, r: at_least(q.age, OLDER_PATIENT_AGE) and any_yes(q.grew, q.changed, q.bleeding),
             "Growing, changing or bleeding lesion in a patient aged 50 or over: an exam with dermoscopy "
             "or a biopsy is likely"),
    # Diameter >= 6 mm and evolving: the D and E of ABCDE together, the classic melanoma warning.
    CareRule("large_changing_lesion", IP,
             lambda q, r: at_least(q.size_mm, LARGE_LESION_MM) and changing(q),
             "Lesion 6 mm or larger that grew or changed: an exam with dermoscopy or a biopsy is likely"),
    # Immunosuppressed: SCC is far more frequent and aggressive; a growing lesion is usually biopsied.
    CareRule("immunosuppressed_growing_lesion", IP,
             lambda q, r: yes(q.immunosuppressed) and any_yes(q.grew, q.changed, q.bleeding),
             "Growing, changing or bleeding lesion in an immunosuppressed patient: a biopsy is likely"),
    # Dermoscopy is outside the model's validated domain: a suspicious reading there needs an exam.
    CareRule("suspicious_dermoscopic_photo", IP,
             lambda q, r: reading_at_least(r.dermoscopic_malignancy, r.priority),
             "Dermoscopic photo read at or above the model's PRIORITY threshold (outside its validated "
             "domain): an in-person exam is likely"),
)
# fmt: on

del EM, IP


def _check_table() -> None:
    ids = [rule.id for rule in CARE_RULES]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate care rule ids: {duplicates}")
    reasons = [rule.reason for rule in CARE_RULES] + [NO_IN_PERSON_SIGNS_REASON]
    if len(set(reasons)) != len(reasons):
        raise ValueError("care rule reasons must be distinct")


_check_table()

CARE_RULES_BY_ID: dict[str, CareRule] = {rule.id: rule for rule in CARE_RULES}
#: every reason a care setting can give (they are fixed texts: a case's reasons can be told apart)
CARE_SETTING_REASONS: frozenset[str] = frozenset(
    [rule.reason for rule in CARE_RULES] + [NO_IN_PERSON_SIGNS_REASON]
)


@dataclass(frozen=True)
class CareSettingAssessment:
    setting: CareSetting
    #: the reasons of the rules that set it (the no-sign reason for remote)
    reasons: tuple[str, ...]
    #: every rule that fired, most demanding setting first (audit trail)
    fired: tuple[str, ...]

    @property
    def patient_advice(self) -> tuple[str, ...]:
        """The sentence this setting adds to the patient's advice (EMERGENCY carries its own)."""
        return (IN_PERSON_ADVICE,) if self.setting is CareSetting.in_person_likely else ()


def assess_care_setting(q: Questionnaire, reading: TriageReading) -> CareSettingAssessment:
    """Apply the care-setting table. Pure and deterministic."""
    fired = sorted(
        (rule for rule in CARE_RULES if rule.fires(q, reading)), key=lambda rule: -rule.setting.demand
    )
    if not fired:
        return CareSettingAssessment(CareSetting.remote, (NO_IN_PERSON_SIGNS_REASON,), ())
    setting = fired[0].setting
    reasons = _unique(rule.reason for rule in fired if rule.setting is setting)
    return CareSettingAssessment(setting, reasons, tuple(rule.id for rule in fired))


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))

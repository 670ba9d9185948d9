"""The care-setting rule table (``model.triage.care_setting``): one row per rule and per boundary
(questionnaire + triage reading -> setting and the rules that fired), EMERGENCY always wins, the table's
conventions, and the engine setting it (with the patient's sentence in their language) on every triage."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from factories import good_jpeg

from model.contract import ModelContract
from model.intake import PhotoLimits, ingest_photo
from model.messages import LOCALES, message, message_id_for
from model.questionnaire import BOOLEAN_FIELDS, Questionnaire
from model.triage.care_setting import (
    CARE_RULES,
    CARE_RULES_BY_ID,
    CARE_SETTING_REASONS,
    IN_PERSON_ADVICE,
    LARGE_LESION_MM,
    NO_IN_PERSON_SIGNS_REASON,
    OLDER_PATIENT_AGE,
    CareRule,
    CareSetting,
    TriageReading,
    assess_care_setting,
)
from model.triage.engine import PhotoAssessment, TriageEngine
from model.triage.red_flags import EMERGENCY_ADVICE, URGENT_ADVICE
from model.triage.tiers import Tier

#: the bundled urgency model's contract thresholds: the table's boundaries are the real ones
CONTRACT = ModelContract.load(Path(__file__).parents[2] / "model" / "artifacts" / "urgency.json")
URGENT = CONTRACT.thresholds["urgent"]
PRIORITY = CONTRACT.thresholds["priority"]

REMOTE, IN_PERSON, EMERGENCY = CareSetting.remote, CareSetting.in_person_likely, CareSetting.emergency
R, P, U, E = Tier.ROUTINE, Tier.PRIORITY, Tier.URGENT, Tier.EMERGENCY


def q(**answers) -> Questionnaire:
    return Questionnaire(jurisdiction="US-CA", **answers)


def reading(
    tier: Tier = R, malignancy: float | None = None, dermoscopic: float | None = None
) -> TriageReading:
    with_model = malignancy is not None or dermoscopic is not None
    return TriageReading(
        tier=tier,
        malignancy=malignancy if malignancy is not None else dermoscopic,
        dermoscopic_malignancy=dermoscopic,
        urgent=URGENT if with_model else None,
        priority=PRIORITY if with_model else None,
    )


def below(threshold: float) -> float:
    return round(threshold - 1e-6, 9)


# (case id, questionnaire answers, reading, expected setting, expected fired rule ids)
# fmt: off
TABLE = [
    # --- nothing to see in person
    ("plain", {"age": 34, "itch": True, "duration_days": 200}, reading(), REMOTE, ()),
    ("nothing_answered", {}, reading(), REMOTE, ()),
    ("priority_tier_alone", {"age": 30, "fever": True}, reading(P), REMOTE, ()),
    ("urgent_tier_alone", {"age": 30, "spreading_rapidly": True}, reading(U), REMOTE, ()),
    # --- emergency_tier
    ("emergency", {"fever": True, "spreading_rapidly": True}, reading(E), EMERGENCY, ("emergency_tier",)),
    # --- high_malignancy_reading: at / just below the contract's URGENT threshold
    ("malignancy_at_urgent", {"age": 30}, reading(U, URGENT), IN_PERSON, ("high_malignancy_reading",)),
    ("malignancy_above_urgent", {"age": 30}, reading(U, 0.9), IN_PERSON, ("high_malignancy_reading",)),
    ("malignancy_just_below_urgent", {"age": 30}, reading(P, below(URGENT)), REMOTE, ()),
    ("malignancy_low", {"age": 30}, reading(R, 0.01), REMOTE, ()),
    # --- changing_lesion_age_50_plus: age 49 / 50, grew / changed / bleeding
    ("age_50_grew", {"age": 50, "grew": True}, reading(P), IN_PERSON, ("changing_lesion_age_50_plus",)),
    ("age_49_grew", {"age": 49, "grew": True}, reading(P), REMOTE, ()),
    ("age_67_changed", {"age": 67, "changed": True}, reading(P), IN_PERSON, ("changing_lesion_age_50_plus",)),
    ("age_67_bleeding", {"age": 67, "bleeding": True}, reading(P), IN_PERSON,
     ("changing_lesion_age_50_plus",)),
    ("age_67_not_changing", {"age": 67, "grew": False, "changed": False, "elevated": True}, reading(),
     REMOTE, ()),
    ("age_unknown_grew", {"grew": True}, reading(P), REMOTE, ()),
    # --- large_changing_lesion: 5.9 / 6 mm
    ("size_6_changed", {"age": 30, "size_mm": 6.0, "changed": True}, reading(P), IN_PERSON,
     ("large_changing_lesion",)),
    ("size_6_grew", {"age": 30, "size_mm": 6, "grew": True}, reading(P), IN_PERSON,
     ("large_changing_lesion",)),
    ("size_5_9_changed", {"age": 30, "size_mm": 5.9, "changed": True}, reading(P), REMOTE, ()),
    ("size_12_unchanged", {"age": 30, "size_mm": 12.0, "changed": False}, reading(), REMOTE, ()),
    ("size_unknown_changed", {"age": 30, "changed": True}, reading(P), REMOTE, ()),
    # --- immunosuppressed_growing_lesion
    ("immunosuppressed_grew", {"age": 30, "immunosuppressed": True, "grew": True}, reading(U), IN_PERSON,
     ("immunosuppressed_growing_lesion",)),
    ("immunosuppressed_bleeding", {"age": 30, "immunosuppressed": True, "bleeding": True}, reading(U),
     IN_PERSON, ("immunosuppressed_growing_lesion",)),
    ("immunosuppressed_stable", {"age": 30, "immunosuppressed": True, "grew": False}, reading(P), REMOTE, ()),
    ("not_immunosuppressed_grew", {"age": 30, "immunosuppressed": False, "grew": True}, reading(P), REMOTE,
     ()),
    # --- suspicious_dermoscopic_photo: at / just below the contract's PRIORITY threshold
    ("dermoscopic_at_priority", {"age": 30}, reading(P, dermoscopic=PRIORITY), IN_PERSON,
     ("suspicious_dermoscopic_photo",)),
    ("dermoscopic_just_below_priority", {"age": 30}, reading(P, dermoscopic=below(PRIORITY)), REMOTE, ()),
    ("clinical_photo_at_priority", {"age": 30}, reading(P, malignancy=PRIORITY), REMOTE, ()),
    ("dermoscopic_at_urgent", {"age": 30}, reading(U, dermoscopic=URGENT), IN_PERSON,
     ("high_malignancy_reading", "suspicious_dermoscopic_photo")),
    # --- several rules, and EMERGENCY over every one of them
    ("age_size_immuno", {"age": 70, "size_mm": 8.0, "changed": True, "immunosuppressed": True}, reading(U),
     IN_PERSON, ("changing_lesion_age_50_plus", "large_changing_lesion", "immunosuppressed_growing_lesion")),
    ("emergency_over_in_person",
     {"age": 70, "size_mm": 8.0, "changed": True, "fever": True, "spreading_rapidly": True},
     reading(E, 0.95), EMERGENCY,
     ("emergency_tier", "high_malignancy_reading", "changing_lesion_age_50_plus", "large_changing_lesion")),
]
# fmt: on


@pytest.mark.parametrize(
    ("answers", "triage", "setting", "fired"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE]
)
def test_the_table(answers, triage, setting, fired) -> None:
    care = assess_care_setting(q(**answers), triage)
    assert care.setting is setting
    assert care.fired == fired
    if fired:
        winning = [i for i in fired if CARE_RULES_BY_ID[i].setting is setting]
        assert care.reasons == tuple(CARE_RULES_BY_ID[i].reason for i in winning)
    else:
        assert care.reasons == (NO_IN_PERSON_SIGNS_REASON,)
    assert care.patient_advice == ((IN_PERSON_ADVICE,) if setting is IN_PERSON else ())


def test_every_rule_has_a_row_of_its_own() -> None:
    alone = {row[4][0] for row in TABLE if len(row[4]) == 1}
    assert alone == set(CARE_RULES_BY_ID)


def test_the_documented_boundaries() -> None:
    assert OLDER_PATIENT_AGE == 50 and LARGE_LESION_MM == 6.0
    assert 0 < PRIORITY < URGENT < 1


@pytest.mark.parametrize("tier", [R, P, U])
@pytest.mark.parametrize(
    "answers",
    [
        {},
        {"age": 80, "grew": True, "size_mm": 20, "changed": True, "immunosuppressed": True, "bleeding": True},
    ],
)
def test_emergency_only_from_the_emergency_tier_and_always_then(tier, answers) -> None:
    worst = TriageReading(
        tier=tier, malignancy=1.0, dermoscopic_malignancy=1.0, urgent=URGENT, priority=PRIORITY
    )
    assert assess_care_setting(q(**answers), worst).setting is not EMERGENCY
    care = assess_care_setting(q(**answers), dataclasses.replace(worst, tier=E))
    assert care.setting is EMERGENCY
    assert care.reasons == (CARE_RULES_BY_ID["emergency_tier"].reason,)
    assert care.patient_advice == ()  # the emergency advice comes with the tier


def test_one_more_yes_never_makes_the_setting_less_demanding() -> None:
    base = {"age": 67, "size_mm": 7.0}
    for tier in (R, E):
        for field in BOOLEAN_FIELDS:
            before = assess_care_setting(q(**base), reading(tier))
            after = assess_care_setting(q(**base, **{field: True}), reading(tier))
            assert after.setting.demand >= before.setting.demand, field
            assert set(before.fired) <= set(after.fired), field


def test_an_unknown_answer_or_missing_model_never_fires() -> None:
    unknown = {field: None for field in BOOLEAN_FIELDS}
    assert assess_care_setting(q(**unknown), reading(P)).fired == ()
    no_thresholds = TriageReading(tier=U, malignancy=1.0, dermoscopic_malignancy=1.0)
    assert assess_care_setting(q(), no_thresholds).setting is REMOTE


def test_the_table_is_well_formed() -> None:
    assert len({rule.id for rule in CARE_RULES}) == len(CARE_RULES)
    assert {rule.reason for rule in CARE_RULES} | {NO_IN_PERSON_SIGNS_REASON} == CARE_SETTING_REASONS
    with pytest.raises(ValueError, match="snake_case"):
        CareRule("Bad-Id", IN_PERSON, lambda q, r: True, "x")
    with pytest.raises(ValueError, match="above remote"):
        CareRule("remote_rule", REMOTE, lambda q, r: True, "x")
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        TriageReading(tier=R, malignancy=1.5)


def test_the_advice_sentence_is_in_every_language() -> None:
    assert message_id_for(IN_PERSON_ADVICE) == "advice.in_person_likely"
    texts = {locale: message("advice.in_person_likely", locale) for locale in LOCALES}
    assert texts["en"] == IN_PERSON_ADVICE
    assert "dermatólogo" in texts["es"] and "en persona" in texts["es"]
    assert "dermatologista" in texts["pt-BR"] and "pessoalmente" in texts["pt-BR"]
    assert len(set(texts.values())) == len(LOCALES)


# --- the engine sets it on every triage ---


class FixedReader:
    """A stand-in urgency model with the contract's thresholds and a fixed malignancy reading."""

    version = "urgency-stub"
    urgent, priority = URGENT, PRIORITY


def assessed(malignancy: float | None, *, dermoscopic: bool = False) -> PhotoAssessment:
    photo = ingest_photo(good_jpeg(), filename="a.jpg", limits=PhotoLimits())
    device = "dermatoscope" if dermoscopic else None
    quality = TriageEngine().judge_quality(
        photo.analysis.rgb, original_size=(photo.width, photo.height), capture_device=device
    )
    assert quality.usable
    predictions = None
    if malignancy is not None:
        predictions = {
            "model": FixedReader.version,
            "malignancy": malignancy,
            "diagnosis": {"MEL": malignancy},
        }
    return PhotoAssessment(quality=quality, predictions=predictions)


@pytest.mark.parametrize(
    ("answers", "photos", "setting", "tier"),
    [
        ({"age": 34}, [None], REMOTE, R),
        ({"age": 34}, [], REMOTE, R),  # no photo yet: set all the same
        ({"age": 67, "grew": True}, [None], IN_PERSON, P),
        ({"age": 34}, [0.01, URGENT], IN_PERSON, U),  # the most suspicious photo counts
        ({"age": 34}, [0.01, below(URGENT)], REMOTE, P),
        ({"age": 34, "fever": True, "spreading_rapidly": True}, [URGENT], EMERGENCY, E),
    ],
)
def test_the_engine_sets_the_care_setting(answers, photos, setting, tier) -> None:
    engine = TriageEngine(urgency_model=FixedReader())
    decision = engine.decide(q(**answers), [assessed(m) for m in photos])
    assert decision.tier is tier
    assert decision.care_setting is setting
    assert decision.care_setting_reasons
    assert decision.care_setting_reasons == tuple(
        CARE_RULES_BY_ID[i].reason for i in decision.care_fired if CARE_RULES_BY_ID[i].setting is setting
    ) or decision.care_setting_reasons == (NO_IN_PERSON_SIGNS_REASON,)
    assert (IN_PERSON_ADVICE in decision.patient_advice) is (setting is IN_PERSON)
    if setting is EMERGENCY:
        assert decision.patient_advice == (EMERGENCY_ADVICE,)
    assert engine.model_versions["care_rules"].startswith("care-setting-")


def test_a_dermoscopic_photo_read_as_suspicious_is_seen_in_person() -> None:
    engine = TriageEngine(urgency_model=FixedReader())
    decision = engine.decide(q(age=34), [assessed(PRIORITY, dermoscopic=True)])
    assert decision.care_setting is IN_PERSON and decision.care_fired == ("suspicious_dermoscopic_photo",)
    clinical = engine.decide(q(age=34), [assessed(PRIORITY)])
    assert clinical.care_setting is REMOTE


def test_a_reading_by_another_model_version_is_not_used() -> None:
    engine = TriageEngine(urgency_model=FixedReader())
    other = assessed(0.99)
    other = dataclasses.replace(other, predictions={**other.predictions, "model": "urgency-old"})
    assert engine.decide(q(age=34), [other]).care_setting is REMOTE


@pytest.mark.parametrize(("language", "locale"), [(None, "en"), ("es-MX", "es"), ("pt-BR", "pt-BR")])
def test_the_patient_reads_it_in_their_language(language, locale) -> None:
    decision = TriageEngine().decide(q(age=67, grew=True, bleeding=True, language=language), [assessed(None)])
    assert decision.care_setting is IN_PERSON
    # the tier's advice first, then where care will likely happen
    assert decision.patient_advice == (
        message("advice.urgent", locale),
        message("advice.in_person_likely", locale),
    )
    assert URGENT_ADVICE not in decision.patient_advice or locale == "en"

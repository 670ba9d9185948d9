"""The deterministic triage rules: red-flag vignettes, unknown answers, urgency score, tiers and bands."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from model.questionnaire import BOOLEAN_FIELDS, Questionnaire
from model.triage import (
    EMERGENCY_ADVICE,
    RED_FLAG_RULES,
    RULES_BY_ID,
    TIER_SCORE_BANDS,
    URGENT_ADVICE,
    Tier,
    assess_urgency,
    decide,
    most_severe,
    tier_for_score,
)
from model.triage.urgency import NO_RED_FLAGS_REASON

E, U, P, R = Tier.EMERGENCY, Tier.URGENT, Tier.PRIORITY, Tier.ROUTINE


def q(**answers: object) -> Questionnaire:
    return Questionnaire(jurisdiction="US", **answers)


# --------------------------------------------------------------------------- clinical vignettes

# (vignette id, questionnaire answers, expected tier, exactly the rules expected to fire)
VIGNETTES: list[tuple[str, dict, Tier, set[str]]] = [
    # EMERGENCY
    (
        "febrile_spreading_cellulitis",
        dict(fever=True, spreading_rapidly=True),
        E,
        {"fever_spreading_rash", "spreading_rapidly", "fever"},
    ),
    (
        "sjs_ten_blisters_and_mucosa",
        dict(blistering_or_peeling=True, mucosal_involvement=True),
        E,
        {"blistering_mucosal", "mucosal_involvement", "blistering_or_peeling"},
    ),
    (
        "blisters_with_fever",
        dict(blistering_or_peeling=True, fever=True, age=4),
        E,
        {"blistering_fever", "blistering_or_peeling", "fever"},
    ),
    (
        "sjs_prodrome_fever_mucositis",
        dict(fever=True, mucosal_involvement=True),
        E,
        {"fever_mucosal", "mucosal_involvement", "fever"},
    ),
    (
        "necrotizing_picture",
        dict(fever=True, spreading_rapidly=True, pain=True, age=64),
        E,
        {"fever_spreading_rash", "painful_spreading", "spreading_rapidly", "fever"},
    ),
    # URGENT
    (
        "bleeding_mole_that_grew",
        dict(bleeding=True, grew=True),
        U,
        {"bleeding_changing_lesion", "changing_lesion", "bleeding_lesion"},
    ),
    (
        "bleeding_mole_that_changed",
        dict(bleeding=True, changed=True, grew=False),
        U,
        {"bleeding_changing_lesion", "changing_lesion", "bleeding_lesion"},
    ),
    (
        "nodule_grew_in_weeks",
        dict(elevated=True, grew=True, duration_days=30, age=40),
        U,
        {"rapidly_growing_nodule", "changing_lesion"},
    ),
    (
        "transplant_changing_lesion",
        dict(immunosuppressed=True, changed=True),
        U,
        {"immunosuppressed_changing_lesion", "changing_lesion", "immunosuppressed"},
    ),
    (
        "transplant_bleeding_lesion",
        dict(immunosuppressed=True, bleeding=True),
        U,
        {"immunosuppressed_changing_lesion", "bleeding_lesion", "immunosuppressed"},
    ),
    (
        "fever_on_chemotherapy",
        dict(fever=True, immunosuppressed=True),
        U,
        {"fever_immunosuppressed", "fever", "immunosuppressed"},
    ),
    ("spreading_rash_alone", dict(spreading_rapidly=True), U, {"spreading_rapidly"}),
    (
        "painful_spreading_redness",
        dict(spreading_rapidly=True, pain=True, fever=False),
        U,
        {"painful_spreading", "spreading_rapidly"},
    ),
    ("mouth_sores_alone", dict(mucosal_involvement=True), U, {"mucosal_involvement"}),
    (
        "blisters_in_pregnancy",
        dict(pregnant=True, blistering_or_peeling=True, sex="female"),
        U,
        {"pregnant_blistering", "blistering_or_peeling"},
    ),
    # PRIORITY
    ("mole_grew", dict(grew=True), P, {"changing_lesion"}),
    ("mole_changed", dict(changed=True, age=30, fitzpatrick=4), P, {"changing_lesion"}),
    ("nodule_grew_long_ago", dict(elevated=True, grew=True, duration_days=400), P, {"changing_lesion"}),
    ("bleeding_alone", dict(bleeding=True), P, {"bleeding_lesion"}),
    (
        "raised_lesion_after_melanoma",
        dict(skin_cancer_history=True, elevated=True),
        P,
        {"skin_cancer_history_suspicious"},
    ),
    (
        "changing_lesion_after_bcc",
        dict(skin_cancer_history=True, changed=True),
        P,
        {"skin_cancer_history_suspicious", "changing_lesion"},
    ),
    (
        "new_raised_lesion_at_55",
        dict(age=55, elevated=True, duration_days=60),
        P,
        {"new_raised_lesion_over_50"},
    ),
    ("large_changing_mole", dict(size_mm=6, changed=True), P, {"large_changing_lesion", "changing_lesion"}),
    ("blisters_alone", dict(blistering_or_peeling=True), P, {"blistering_or_peeling"}),
    ("fever_alone", dict(fever=True, itch=True), P, {"fever"}),
    ("immunosuppressed_alone", dict(immunosuppressed=True, itch=True), P, {"immunosuppressed"}),
    # ROUTINE
    ("all_unknown", dict(), R, set()),
    ("itchy_rash", dict(itch=True, pain=True, age=30, duration_days=20, body_site="arm"), R, set()),
    ("new_raised_lesion_at_49", dict(age=49, elevated=True, duration_days=60), R, set()),
    ("old_raised_lesion_at_70", dict(age=70, elevated=True, duration_days=3650), R, set()),
    ("raised_lesion_unknown_duration", dict(age=70, elevated=True), R, set()),
    ("small_changed_boundary", dict(size_mm=5.9), R, set()),
    ("skin_cancer_history_only", dict(skin_cancer_history=True), R, set()),
    ("all_answered_no", {name: False for name in BOOLEAN_FIELDS}, R, set()),
]


@pytest.mark.parametrize(
    ("answers", "tier", "fired"),
    [pytest.param(answers, tier, fired, id=name) for name, answers, tier, fired in VIGNETTES],
)
def test_vignette(answers: dict, tier: Tier, fired: set[str]) -> None:
    result = assess_urgency(q(**answers))
    assert result.tier is tier
    assert set(result.fired) == fired
    assert result.source == "rules"
    assert tier_for_score(result.score) is tier
    if fired:
        assert len(result.reasons) == len(fired)
        assert result.reasons[0] == RULES_BY_ID[result.fired[0]].reason
    else:
        assert result.reasons == (NO_RED_FLAGS_REASON,)


def test_every_rule_has_a_vignette() -> None:
    covered = set().union(*(fired for _, _, _, fired in VIGNETTES))
    assert covered == set(RULES_BY_ID)


def test_every_rule_fires_at_its_own_tier_in_some_vignette() -> None:
    for rule in RED_FLAG_RULES:
        tiers = {tier for _, _, tier, fired in VIGNETTES if rule.id in fired}
        assert rule.tier in tiers, rule.id


def test_rule_table_is_well_formed() -> None:
    ids = [rule.id for rule in RED_FLAG_RULES]
    assert len(ids) == len(set(ids))
    reasons = [rule.reason for rule in RED_FLAG_RULES]
    assert len(reasons) == len(set(reasons))
    for rule in RED_FLAG_RULES:
        assert 0 < rule.weight < 1
        if rule.tier is E:
            assert rule.patient_advice == EMERGENCY_ADVICE
    # grouped by tier, most severe first, so a reviewer reads it top-down
    ranks = [rule.tier.rank for rule in RED_FLAG_RULES]
    assert ranks == sorted(ranks)


def test_reasons_are_most_severe_first() -> None:
    result = assess_urgency(q(fever=True, spreading_rapidly=True, grew=True, bleeding=True))
    tiers = [RULES_BY_ID[rule_id].tier for rule_id in result.fired]
    assert tiers == sorted(tiers, reverse=True)
    assert result.reasons == tuple(RULES_BY_ID[rule_id].reason for rule_id in result.fired)


@pytest.mark.parametrize(
    ("answers", "advice"),
    [
        (dict(fever=True, spreading_rapidly=True), (EMERGENCY_ADVICE,)),
        (dict(blistering_or_peeling=True, mucosal_involvement=True, fever=True), (EMERGENCY_ADVICE,)),
        (dict(bleeding=True, grew=True, immunosuppressed=True), (URGENT_ADVICE,)),
        (dict(grew=True), ()),
        (dict(), ()),
    ],
)
def test_patient_advice_is_the_tier_advice_only(answers: dict, advice: tuple[str, ...]) -> None:
    # an emergency patient gets one clear instruction, not "go now" and "wait for review" mixed
    assert assess_urgency(q(**answers)).patient_advice == advice


# ------------------------------------------------------------------ unknown answers, monotonicity


def _random_questionnaires(n: int, seed: int = 20240611) -> list[Questionnaire]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        answers: dict[str, object] = {name: rng.choice([None, False, True]) for name in BOOLEAN_FIELDS}
        answers["age"] = rng.choice([None, 8, 35, 52, 67])
        answers["duration_days"] = rng.choice([None, 5, 60, 120, 400])
        answers["size_mm"] = rng.choice([None, 2.0, 6.0, 15.0])
        answers["fitzpatrick"] = rng.choice([None, 1, 2, 4, 6])
        out.append(q(**answers))
    return out


RANDOM_CASES = _random_questionnaires(400)


def test_all_unknown_is_routine_and_fires_nothing() -> None:
    result = assess_urgency(q())
    assert result.tier is R
    assert result.fired == ()
    assert result.risk_factors == ()
    assert result.score == 0.0
    assert result.patient_advice == ()


@pytest.mark.parametrize("field", BOOLEAN_FIELDS)
def test_a_single_unknown_answer_fires_nothing(field: str) -> None:
    assert assess_urgency(q(**{field: None})).fired == ()


def test_unknown_is_treated_exactly_as_not_reported() -> None:
    for case in RANDOM_CASES:
        as_no = case.model_copy(update={f: False for f in BOOLEAN_FIELDS if getattr(case, f) is None})
        assert assess_urgency(case) == assess_urgency(as_no)


def test_unknown_never_counts_as_yes() -> None:
    # turning a "yes" into "unknown" can never raise the tier or the score
    for case in RANDOM_CASES:
        base = assess_urgency(case)
        for field in BOOLEAN_FIELDS:
            if getattr(case, field) is True:
                weaker = assess_urgency(case.model_copy(update={field: None}))
                assert weaker.tier <= base.tier
                assert weaker.score <= base.score


def test_adding_a_red_flag_never_lowers_tier_or_score() -> None:
    for case in RANDOM_CASES:
        base = assess_urgency(case)
        for field in BOOLEAN_FIELDS:
            if getattr(case, field) is not True:
                more = assess_urgency(case.model_copy(update={field: True}))
                assert more.tier >= base.tier, (case, field)
                assert more.score >= base.score, (case, field)
                assert set(base.fired) <= set(more.fired)


def test_more_signals_raise_the_score_within_a_tier() -> None:
    one = assess_urgency(q(grew=True))
    two = assess_urgency(q(grew=True, size_mm=7.0, changed=True, skin_cancer_history=True))
    with_risk = assess_urgency(q(grew=True, age=70, fitzpatrick=1))
    assert one.tier is two.tier is with_risk.tier is P
    assert two.score > one.score
    assert with_risk.score > one.score
    assert set(with_risk.risk_factors) == {"risk_age_60_plus", "risk_fair_skin_changing_lesion"}


def test_score_is_always_inside_its_tier_band() -> None:
    for case in RANDOM_CASES:
        result = assess_urgency(case)
        floor, ceiling = TIER_SCORE_BANDS[result.tier]
        assert floor <= result.score <= 1.0
        assert result.score < ceiling or result.tier is E
        assert tier_for_score(result.score) is result.tier
        assert result.score == round(result.score, 3)


def test_saturated_scores_stay_below_the_next_band() -> None:
    # every PRIORITY rule and risk factor at once, but nothing URGENT
    result = assess_urgency(
        q(
            grew=True,
            changed=True,
            elevated=True,
            skin_cancer_history=True,
            age=75,
            duration_days=120,
            size_mm=20.0,
            fitzpatrick=1,
            blistering_or_peeling=True,
        )
    )
    assert result.tier is P
    assert result.score < TIER_SCORE_BANDS[U][0]


# -------------------------------------------------------------------------------- tiers and bands


def test_tier_ordering() -> None:
    assert E > U > P > R
    assert sorted([R, E, P, U]) == [R, P, U, E]
    assert [t.rank for t in (E, U, P, R)] == [0, 1, 2, 3]
    assert Tier.by_severity() == (E, U, P, R)
    assert most_severe(R, U, P) is U
    assert most_severe("ROUTINE", E) is E
    assert Tier("URGENT") is U and U == "URGENT" and str(U) == "URGENT"


def test_tier_refuses_string_comparison_and_empty_most_severe() -> None:
    with pytest.raises(TypeError):
        _ = E > "ROUTINE"  # alphabetical order would say EMERGENCY < ROUTINE
    with pytest.raises(ValueError):
        most_severe()


def test_score_bands_are_contiguous_and_ordered() -> None:
    bands = [TIER_SCORE_BANDS[t] for t in (R, P, U, E)]
    assert bands[0][0] == 0.0 and bands[-1][1] == 1.0
    for (_, ceiling), (floor, _) in itertools.pairwise(bands):
        assert ceiling == floor


@pytest.mark.parametrize("tier", list(Tier))
def test_tier_for_score_round_trips_band_floors(tier: Tier) -> None:
    floor, ceiling = TIER_SCORE_BANDS[tier]
    assert tier_for_score(floor) is tier
    assert tier_for_score(ceiling - 0.001) is tier


def test_tier_for_score_edges() -> None:
    assert tier_for_score(0.0) is R and tier_for_score(1.0) is E
    assert tier_for_score(0.399) is R and tier_for_score(0.4) is P
    assert tier_for_score(0.7) is U and tier_for_score(0.9) is E
    for bad in (-0.01, 1.01, math.nan, math.inf):
        with pytest.raises(ValueError):
            tier_for_score(bad)


def test_determinism() -> None:
    for case in RANDOM_CASES[:100]:
        first, second = assess_urgency(case), assess_urgency(case)
        assert first == second
        rebuilt = Questionnaire.model_validate_json(case.model_dump_json())
        assert assess_urgency(rebuilt) == first
        verdicts = ["reject", "accept"]
        assert decide(rules=first, model=None, photo_verdicts=verdicts) == decide(
            rules=second, model=None, photo_verdicts=verdicts
        )

"""decide(): rules, the learned model and the photo verdicts combined into one triage."""

from __future__ import annotations

import math

import pytest

from model.questionnaire import Questionnaire
from model.triage import decision as rules_of_decision
from model.triage.decision import RETAKE_REASON, ModelUrgency, decide
from model.triage.red_flags import EMERGENCY_ADVICE, URGENT_ADVICE
from model.triage.tiers import Tier
from model.triage.urgency import NO_RED_FLAGS_REASON, assess_urgency, tier_for_score

E, U, P, R = Tier.EMERGENCY, Tier.URGENT, Tier.PRIORITY, Tier.ROUTINE


def q(**answers: object) -> Questionnaire:
    """A questionnaire answered as given (everything else unanswered)."""
    return Questionnaire(jurisdiction="US", **answers)


# ------------------------------------------------------------------------------------------ decide


def _model(score: float, tier: Tier, *reasons: str) -> ModelUrgency:
    return ModelUrgency(score=score, tier=tier, version="derm-v0.1", reasons=tuple(reasons))


def test_decide_without_model_uses_the_rules() -> None:
    rules = assess_urgency(q(bleeding=True, grew=True))
    decision = decide(rules=rules, model=None, photo_verdicts=["accept", "retake"])
    assert decision.tier is U
    assert decision.urgency_score == rules.score
    assert decision.retake_required is False
    assert decision.reasons == rules.reasons
    assert decision.patient_advice == (URGENT_ADVICE,)
    assert decision.fired == rules.fired
    assert decision.model_version is None


def test_model_can_raise_the_tier() -> None:
    rules = assess_urgency(q(itch=True))
    model = _model(0.82, U, "Irregular pigment network")
    decision = decide(rules=rules, model=model, photo_verdicts=["accept"])
    assert decision.tier is U
    assert decision.urgency_score == 0.82
    assert decision.reasons == (NO_RED_FLAGS_REASON, "Irregular pigment network")
    assert decision.patient_advice == (URGENT_ADVICE,)
    assert decision.model_version == "derm-v0.1"


def test_model_raising_without_reasons_is_still_explained() -> None:
    decision = decide(rules=assess_urgency(q()), model=_model(0.5, P), photo_verdicts=["accept"])
    assert decision.tier is P
    assert any("derm-v0.1" in reason and "PRIORITY" in reason for reason in decision.reasons)


def test_rules_floor_a_lower_model_tier() -> None:
    rules = assess_urgency(q(spreading_rapidly=True))
    assert rules.tier is U
    decision = decide(rules=rules, model=_model(0.12, R), photo_verdicts=["accept"])
    assert decision.tier is U
    assert decision.urgency_score >= 0.7
    assert tier_for_score(decision.urgency_score) is U
    assert decision.patient_advice == (URGENT_ADVICE,)


def test_model_emergency_gets_emergency_advice() -> None:
    rules = assess_urgency(q(grew=True))
    decision = decide(rules=rules, model=_model(0.95, E), photo_verdicts=[])
    assert decision.tier is E
    assert decision.patient_advice == (EMERGENCY_ADVICE,)
    assert RETAKE_REASON not in decision.reasons


def test_model_score_above_its_own_tier_is_read_conservatively() -> None:
    decision = decide(rules=assess_urgency(q()), model=_model(0.93, P), photo_verdicts=["accept"])
    assert decision.tier is E
    assert EMERGENCY_ADVICE in decision.patient_advice


@pytest.mark.parametrize("score", [0.0, 0.12, 0.3999, 0.4, 0.69996, 0.7, 0.8999, 0.9, 0.97, 1.0])
@pytest.mark.parametrize("model_tier", list(Tier))
@pytest.mark.parametrize(
    "answers",
    [dict(), dict(grew=True), dict(mucosal_involvement=True), dict(fever=True, spreading_rapidly=True)],
)
def test_decision_score_and_tier_never_disagree(score: float, model_tier: Tier, answers: dict) -> None:
    rules = assess_urgency(q(**answers))
    decision = decide(rules=rules, model=_model(score, model_tier), photo_verdicts=["accept"])
    assert tier_for_score(decision.urgency_score) is decision.tier
    assert decision.tier >= rules.tier and decision.tier >= model_tier
    assert decision.urgency_score == round(decision.urgency_score, 3)


@pytest.mark.parametrize(
    ("verdicts", "retake"),
    [
        ([], True),
        (["reject"], True),
        (["retake", "reject"], True),
        (["reject", "accept"], False),
        (("accept",), False),
    ],
)
def test_retake_logic(verdicts: list[str], retake: bool) -> None:
    decision = decide(rules=assess_urgency(q(grew=True)), model=None, photo_verdicts=verdicts)
    assert decision.retake_required is retake
    # PRIORITY: queued all the same, the reason says a retake is requested
    assert (rules_of_decision.QUEUED_WITHOUT_PHOTO_REASON in decision.reasons) is retake
    assert RETAKE_REASON not in decision.reasons and not decision.holds_case
    assert decision.tier is P  # a missing photo never changes the tier


def test_emergency_never_waits_for_photos() -> None:
    rules = assess_urgency(q(blistering_or_peeling=True, mucosal_involvement=True))
    for verdicts in ([], ["reject", "reject"]):
        decision = decide(rules=rules, model=None, photo_verdicts=verdicts)
        assert decision.tier is E
        assert decision.retake_required is True
        assert RETAKE_REASON not in decision.reasons
        assert EMERGENCY_ADVICE in decision.patient_advice
    with_model = decide(rules=rules, model=_model(0.1, R), photo_verdicts=[])
    assert with_model.tier is E and with_model.patient_advice == (EMERGENCY_ADVICE,)


def test_reasons_are_deduplicated_in_stable_order() -> None:
    rules = assess_urgency(q(bleeding=True))
    decision = decide(
        rules=rules,
        model=_model(0.5, P, "Ulcerated surface", rules.reasons[0], "Ulcerated surface"),
        photo_verdicts=["accept"],
    )
    assert decision.reasons == (*rules.reasons, "Ulcerated surface")


def test_decide_input_validation() -> None:
    rules = assess_urgency(q())
    with pytest.raises(TypeError):
        decide(rules=rules, model=None, photo_verdicts="accept")
    for bad_score in (-0.1, 1.5, math.nan):
        with pytest.raises(ValueError):
            _model(bad_score, R)
    with pytest.raises(ValueError):
        ModelUrgency(score=0.5, tier="PRIORITY", version="v")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ModelUrgency(score=0.5, tier=P, version="")


# ------------------------------------------------ can the photo be read / could it be better


def test_a_readable_photo_that_could_be_better_asks_for_one_and_goes_on() -> None:
    decision = decide(
        rules=assess_urgency(q()), model=_model(0.3, R), photo_verdicts=["retake"], photo_readable=[True]
    )
    assert decision.retake_required is False
    assert decision.better_photo_requested is True
    assert decision.holds_case is False
    assert rules_of_decision.BETTER_PHOTO_REASON in decision.reasons
    assert RETAKE_REASON not in decision.reasons


def test_an_accepted_photo_beside_a_poor_one_asks_for_nothing() -> None:
    decision = decide(
        rules=assess_urgency(q()),
        model=None,
        photo_verdicts=["retake", "accept"],
        photo_readable=[True, True],
    )
    assert not decision.better_photo_requested and not decision.retake_required


@pytest.mark.parametrize(
    ("model_tier", "answers", "held"),
    [
        (R, {}, True),  # nothing suggests danger: the case waits for a readable photo
        (P, {}, False),  # the model reads PRIORITY: queued all the same
        (U, {}, False),
        (R, {"bleeding": True, "grew": True}, False),  # red flags: URGENT by the rules
    ],
)
def test_a_case_without_a_readable_photo_is_held_only_below_priority(model_tier, answers, held) -> None:
    score = {R: 0.1, P: 0.5, U: 0.8}[model_tier]
    decision = decide(
        rules=assess_urgency(q(**answers)),
        model=_model(score, model_tier),
        photo_verdicts=["retake"],
        photo_readable=[False],
    )
    assert decision.retake_required is True
    assert decision.better_photo_requested is False
    assert decision.holds_case is held
    assert (RETAKE_REASON in decision.reasons) is held
    assert (rules_of_decision.QUEUED_WITHOUT_PHOTO_REASON in decision.reasons) is not held


def test_a_floor_raises_the_tier_and_keeps_score_and_tier_in_agreement() -> None:
    decision = decide(
        rules=assess_urgency(q()),
        model=_model(0.05, R),
        photo_verdicts=["accept"],
        floors=[(P, "Dermoscopic photo")],
    )
    assert decision.tier is P
    assert tier_for_score(decision.urgency_score) is P
    assert "Dermoscopic photo" in decision.reasons
    higher = decide(
        rules=assess_urgency(q()), model=_model(0.7, U), photo_verdicts=["accept"], floors=[(P, "x")]
    )
    assert higher.tier is U  # a floor never lowers


def test_photo_readable_must_match_the_verdicts() -> None:
    with pytest.raises(ValueError, match="one entry per photo"):
        decide(rules=assess_urgency(q()), model=None, photo_verdicts=["accept"], photo_readable=[True, False])

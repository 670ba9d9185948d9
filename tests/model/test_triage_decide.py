"""decide(): rules, the learned model and the photo verdicts combined into one triage."""

from __future__ import annotations

import math

import pytest

from model.questionnaire import Questionnaire
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
    assert (RETAKE_REASON in decision.reasons) is retake
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

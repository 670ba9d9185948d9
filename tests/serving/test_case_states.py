"""The case state machine: where cases start, where new photos send them, which moves are legal."""

from __future__ import annotations

import pytest

from model.triage.decision import TriageDecision
from model.triage.tiers import Tier
from serving.cases.states import (
    ALLOWED_MOVES,
    CaseStatus,
    IllegalMove,
    can_move,
    status_after_new_photos,
    status_on_intake,
)

S = CaseStatus


def decision(tier: Tier = Tier.ROUTINE, retake: bool = False) -> TriageDecision:
    return TriageDecision(
        tier=tier, urgency_score=0.1, retake_required=retake, reasons=("r",), patient_advice=()
    )


@pytest.mark.parametrize(
    ("tier", "retake", "expected"),
    [
        (Tier.ROUTINE, False, S.queued),
        (Tier.URGENT, False, S.queued),
        (Tier.ROUTINE, True, S.awaiting_retake),
        (Tier.EMERGENCY, True, S.emergency),  # an emergency never waits for photos
        (Tier.EMERGENCY, False, S.emergency),
    ],
)
def test_where_a_new_case_starts(tier, retake, expected):
    assert status_on_intake(decision(tier, retake)) is expected


@pytest.mark.parametrize(
    ("current", "tier", "retake", "expected"),
    [
        (S.awaiting_retake, Tier.ROUTINE, False, S.queued),  # a usable retake enters the queue
        (S.awaiting_retake, Tier.ROUTINE, True, S.awaiting_retake),  # still nothing usable
        (S.awaiting_patient, Tier.PRIORITY, False, S.queued),
        (S.follow_up_scheduled, Tier.ROUTINE, False, S.queued),  # follow-up photos return it to the queue
        (S.queued, Tier.ROUTINE, False, S.queued),
        (S.in_review, Tier.URGENT, False, S.in_review),  # a dermatologist holds it: stays with them
        (S.queued, Tier.EMERGENCY, False, S.emergency),
        (S.diagnosed, Tier.ROUTINE, False, S.diagnosed),
    ],
)
def test_where_new_photos_send_a_case(current, tier, retake, expected):
    target = status_after_new_photos(current, decision(tier, retake))
    assert target is expected
    assert target is current or can_move(current, target)


@pytest.mark.parametrize("current", [S.closed, S.referred_in_person])
def test_finished_cases_take_no_photos(current):
    with pytest.raises(IllegalMove, match=current.value):
        status_after_new_photos(current, decision())


def test_closed_is_final_and_every_status_has_moves_listed():
    assert set(ALLOWED_MOVES) == set(CaseStatus)
    assert ALLOWED_MOVES[S.closed] == frozenset()
    assert all(S.closed in moves for status, moves in ALLOWED_MOVES.items() if status is not S.closed)
    assert not can_move(S.queued, S.diagnosed)  # a diagnosis needs a dermatologist's review first


@pytest.mark.parametrize("current", [S.awaiting_patient, S.follow_up_scheduled])
def test_only_usable_new_photos_answer_the_patient_request(current):
    """Earlier usable photos do not answer a retake request or a follow-up: the case waits on."""
    assert status_after_new_photos(current, decision(), new_usable=False) is current
    assert status_after_new_photos(current, decision(), new_usable=True) is S.queued

"""The case state machine: the statuses, the moves allowed between them, and the pure rules
that pick a status after triage. Every move goes through ``transition()``, which refuses an
illegal move and writes the audit row in the same transaction."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.orm import Session

from serving.audit import Actor, record
from serving.cases.models import Case
from serving.db import utcnow
from serving.queue.leases import LEASED_STATUSES, end_lease
from model.triage.decision import TriageDecision
from model.triage.tiers import Tier


class CaseStatus(StrEnum):
    awaiting_retake = "awaiting_retake"  # no usable photo yet; not in the queue
    queued = "queued"  # waiting for a dermatologist
    emergency = "emergency"  # flagged for immediate action; patient told to seek emergency care
    in_review = "in_review"  # claimed by a dermatologist
    awaiting_patient = "awaiting_patient"  # question or retake asked by the dermatologist
    diagnosed = "diagnosed"
    follow_up_scheduled = "follow_up_scheduled"
    referred_in_person = "referred_in_person"
    closed = "closed"


S = CaseStatus
ALLOWED_MOVES: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.awaiting_retake: frozenset({S.queued, S.emergency, S.closed}),
    S.queued: frozenset({S.in_review, S.emergency, S.closed}),
    S.emergency: frozenset({S.in_review, S.referred_in_person, S.closed}),
    S.in_review: frozenset(
        {S.queued, S.awaiting_patient, S.diagnosed, S.referred_in_person, S.emergency, S.closed}
    ),
    S.awaiting_patient: frozenset({S.queued, S.emergency, S.closed}),
    S.diagnosed: frozenset({S.follow_up_scheduled, S.in_review, S.referred_in_person, S.closed}),
    S.follow_up_scheduled: frozenset({S.queued, S.emergency, S.closed}),
    S.referred_in_person: frozenset({S.closed}),
    S.closed: frozenset(),
}

#: statuses in which the patient may still send photos
ACCEPTS_PHOTOS = frozenset(
    {
        S.awaiting_retake,
        S.queued,
        S.emergency,
        S.in_review,
        S.awaiting_patient,
        S.diagnosed,
        S.follow_up_scheduled,
    }
)


class IllegalMove(Exception):
    def __init__(self, current: CaseStatus, target: CaseStatus | str):
        self.current = current
        self.target = target
        super().__init__(
            f"a case in status {current.value!r} cannot move to {getattr(target, 'value', target)!r}"
        )


def accepts_photos(status: CaseStatus) -> bool:
    return status in ACCEPTS_PHOTOS


def can_move(current: CaseStatus, target: CaseStatus) -> bool:
    return target in ALLOWED_MOVES[current]


def status_on_intake(decision: TriageDecision) -> CaseStatus:
    """Where a new case starts."""
    if decision.tier is Tier.EMERGENCY:
        return S.emergency
    return S.awaiting_retake if decision.retake_required else S.queued


def status_after_new_photos(
    current: CaseStatus, decision: TriageDecision, *, new_usable: bool = True
) -> CaseStatus:
    """Where a case goes when the patient sends more photos (a retake or a follow-up). A case waiting
    for the patient returns to the queue only when at least one of the new photos is usable: earlier
    usable photos do not answer a retake request or a follow-up."""
    if not accepts_photos(current):
        raise IllegalMove(current, "photos added")
    if decision.tier is Tier.EMERGENCY and can_move(current, S.emergency):
        return S.emergency
    waiting_for_patient = current in (S.awaiting_retake, S.awaiting_patient, S.follow_up_scheduled)
    if waiting_for_patient and new_usable and not decision.retake_required:
        return S.queued
    return current


def transition(session: Session, case: Case, target: CaseStatus, *, actor: Actor, reason: str) -> None:
    current = CaseStatus(case.status)
    if target == current:
        return
    if not can_move(current, target):
        raise IllegalMove(current, target)
    now = utcnow()
    case.status = target.value
    case.updated_at = now
    if target.value not in LEASED_STATUSES:
        end_lease(case)  # the case leaves its dermatologist's hands
    if target is S.in_review and case.first_reviewed_at is None:
        case.first_reviewed_at = now  # the review SLA is met if this is <= review_due_at
    if target is S.queued:
        case.last_queued_at = now
    record(
        session,
        actor=actor,
        action="case.transition",
        resource_type="case",
        resource_id=case.id,
        detail={"from": current.value, "to": target.value, "reason": reason},
    )

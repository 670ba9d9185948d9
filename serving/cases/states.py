"""The case state machine: the moves allowed between the statuses (``serving.cases.status``), and
the pure rules that pick a status after triage. Every move goes through ``transition()``, which
refuses an illegal move and writes the audit row in the same transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from model.triage.decision import TriageDecision
from model.triage.tiers import Tier
from serving.audit import Actor, record_case
from serving.cases.leases import LEASED_STATUSES, end_lease
from serving.cases.models import Case
from serving.cases.status import CaseStatus
from serving.db import utcnow
from serving.errors import DomainError

S = CaseStatus
ALLOWED_MOVES: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.awaiting_retake: frozenset({S.queued, S.emergency, S.closed}),
    S.queued: frozenset({S.in_review, S.emergency, S.closed}),
    S.emergency: frozenset({S.in_review, S.referred_in_person, S.closed}),
    S.in_review: frozenset(
        {
            S.queued,
            S.awaiting_patient,
            S.awaiting_visit,
            S.diagnosed,
            S.referred_in_person,
            S.emergency,
            S.closed,
        }
    ),
    S.awaiting_patient: frozenset({S.queued, S.emergency, S.closed}),
    S.diagnosed: frozenset(
        {S.follow_up_scheduled, S.awaiting_visit, S.in_review, S.referred_in_person, S.closed}
    ),
    # the visit happened: back in review with the dermatologist; cancelled: back to the queue
    S.awaiting_visit: frozenset({S.in_review, S.queued, S.emergency, S.closed}),
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
        S.awaiting_visit,
        S.diagnosed,
        S.follow_up_scheduled,
    }
)


class IllegalMove(DomainError):
    """A move, or an action, the state machine does not allow from the case's status: a 409 naming it."""

    def __init__(
        self,
        current: CaseStatus,
        target: CaseStatus | str,
        *,
        message: str | None = None,
        fix: str = "Reload the case and act on its current status.",
    ):
        self.current = current
        self.target = target
        message = (
            message
            or f"a case in status {current.value!r} cannot move to {getattr(target, 'value', target)!r}"
        )
        super().__init__(409, "illegal_state", message, fix=fix, field="status")


def require_status(case: Case, *allowed: CaseStatus, action: str) -> CaseStatus:
    """The case's status, unless it is not one of ``allowed`` (then IllegalMove naming it and ``action``)."""
    current = CaseStatus(case.status)
    if current not in allowed:
        where = ", ".join(repr(s.value) for s in allowed)
        raise IllegalMove(
            current,
            action,
            message=f"a case in status {current.value!r} cannot {action}",
            fix=f"This is possible while the case is in status {where}."
            if where
            else "Check the case's status.",
        )
    return current


def accepts_photos(status: CaseStatus) -> bool:
    return status in ACCEPTS_PHOTOS


def photos_refused(current: CaseStatus) -> IllegalMove:
    return IllegalMove(
        current,
        "photos added",
        message=f"photos cannot be added to a case in status {current.value!r}",
        fix="Submit a new case instead.",
    )


def can_move(current: CaseStatus, target: CaseStatus) -> bool:
    return target in ALLOWED_MOVES[current]


def status_on_intake(decision: TriageDecision) -> CaseStatus:
    """Where a new case starts: only a case with no readable photo and a tier below PRIORITY waits
    for a retake out of the queue (``TriageDecision.holds_case``)."""
    if decision.tier is Tier.EMERGENCY:
        return S.emergency
    return S.awaiting_retake if decision.holds_case else S.queued


def status_after_new_photos(
    current: CaseStatus, decision: TriageDecision, *, new_usable: bool = True
) -> CaseStatus:
    """Where a case goes when the patient sends more photos (a retake or a follow-up). A case waiting
    for the patient returns to the queue only when at least one of the new photos is usable: earlier
    usable photos do not answer a retake request or a follow-up."""
    if not accepts_photos(current):
        raise photos_refused(current)
    if decision.tier is Tier.EMERGENCY and can_move(current, S.emergency):
        return S.emergency
    if current is S.awaiting_retake and not decision.holds_case:
        return S.queued  # a readable photo came, or the case now looks too dangerous to wait
    waiting_for_patient = current in (S.awaiting_patient, S.follow_up_scheduled)
    if waiting_for_patient and new_usable and not decision.retake_required:
        return S.queued
    return current


def status_on_return(case: Case) -> CaseStatus:
    """Where a case goes when it comes back to the dermatologists unfinished (its reviewer released it,
    the lease expired, the reviewer was deactivated, the patient answered a question): a case of tier
    EMERGENCY back to ``emergency``, pinned above the queue for immediate action; any other case to
    ``queued``. So a case of tier EMERGENCY is never an ordinary ``queued`` row, and the queue's
    figures (emergencies open, queued per tier) count it once, as an emergency."""
    return S.emergency if case.tier is Tier.EMERGENCY else S.queued


def return_for_review(session: Session, case: Case, *, actor: Actor, reason: str) -> CaseStatus:
    """Move ``case`` back to the dermatologists (``status_on_return``: ``emergency`` or ``queued``),
    audited; the one way every path back to the queue takes. Returns the status it moved to."""
    target = status_on_return(case)
    if case.status is not target:
        transition(session, case, target, actor=actor, reason=reason)
        case.last_queued_at = case.updated_at  # waiting again, in the queue or pinned above it
    return target


def set_review_due(case: Case, due: datetime | None) -> None:
    """The case is due for review at ``due``: its place in the queue (``review_due_at``). Until a
    dermatologist first takes the case into review, ``due`` is also the first review's due time
    (``first_review_due_at``), which the SLA figures judge the first review by; from then on that
    one never moves, so a late first review stays late when the patient later sends photos, answers
    or a follow-up and the returning case gets a due time of its own."""
    case.review_due_at = due
    if case.first_reviewed_at is None:
        case.first_review_due_at = due


def transition(session: Session, case: Case, target: CaseStatus, *, actor: Actor, reason: str) -> None:
    current = case.status
    if target == current:
        return
    if not can_move(current, target):
        raise IllegalMove(current, target)
    now = utcnow()
    case.status = target
    case.updated_at = now
    if target not in LEASED_STATUSES:
        end_lease(case)  # the case leaves its dermatologist's hands
    if target is S.in_review and case.first_reviewed_at is None:
        case.first_reviewed_at = now  # the review SLA is met if this is <= first_review_due_at
    if target is S.queued:
        case.last_queued_at = now
    record_case(
        session,
        actor,
        "case.transition",
        case.id,
        {"from": current.value, "to": target.value, "reason": reason},
    )

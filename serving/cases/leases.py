"""Leases: a dermatologist holds a case in review until a time; pure rules on a ``Case``, used by the
state machine (a move out of review ends the lease), the queue (claim, renew, expire) and the consult
(only the holder acts)."""

from __future__ import annotations

from datetime import datetime, timedelta

from serving.cases.models import Case
from serving.cases.status import CaseStatus

#: statuses in which a case stays with the dermatologist who holds it (review, then diagnosis,
#: prescriptions); moving to any other status ends the lease
LEASED_STATUSES = frozenset({CaseStatus.in_review, CaseStatus.diagnosed})


def lease_active(case: Case, now: datetime) -> bool:
    """Someone holds the case now (an expired lease holds nothing)."""
    return case.assigned_to is not None and case.lease_expires_at is not None and case.lease_expires_at > now


def held_by(case: Case, user_id: str | None, now: datetime) -> bool:
    return user_id is not None and case.assigned_to == user_id and lease_active(case, now)


def start_lease(case: Case, *, user_id: str, now: datetime, duration: timedelta) -> None:
    case.assigned_to = user_id
    case.lease_expires_at = now + duration


def end_lease(case: Case) -> None:
    """The case is held by no one. ``transition()`` calls it whenever a case moves to a status
    outside ``LEASED_STATUSES`` (back to the queue, to the patient, follow-up, referral, closed)."""
    case.assigned_to = None
    case.lease_expires_at = None

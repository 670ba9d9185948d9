"""Leases that ran out, and reviewers who leave: their cases go back to the queue, audited (an
emergency back to ``emergency``, pinned above it: ``serving.cases.states.return_for_review``).

Leases expire lazily: every claim and every listing first returns the expired leases of the
organization to the queue (in the same transaction), so an expired case is claimable at once without
a background job; ``sweep_expired_leases()`` also runs on its own (``dermatriage queue sweep``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from serving.audit import Actor, record_case
from serving.cases.leases import LEASED_STATUSES, end_lease
from serving.cases.models import Case
from serving.cases.states import return_for_review
from serving.cases.status import CaseStatus
from serving.db import utcnow

S = CaseStatus


def _system(case: Case, actor: Actor | None) -> Actor:
    return Actor(
        organization_id=case.organization_id,
        key_id=None,
        role="system",
        request_id=actor.request_id if actor else None,
    )


def sweep_expired_leases(
    session: Session,
    *,
    now: datetime | None = None,
    organization_id: str | None = None,
    actor: Actor | None = None,
    limit: int = 100,
) -> list[str]:
    """Return cases in review whose lease has expired (or that no one holds) to the queue.

    Returns the ids of the cases returned. Rows another transaction has locked are skipped
    (it is claiming or sweeping them). Each return is audited as a system action.
    """
    now = now or utcnow()
    query = select(Case).where(
        Case.status == S.in_review,
        or_(Case.lease_expires_at <= now, Case.lease_expires_at.is_(None)),
    )
    if organization_id is not None:
        query = query.where(Case.organization_id == organization_id)
    query = query.order_by(Case.lease_expires_at).limit(limit).with_for_update(skip_locked=True)
    returned = []
    for case in session.scalars(query):
        holder, expired_at = case.assigned_to, case.lease_expires_at
        system = _system(case, actor)
        return_for_review(session, case, actor=system, reason="lease expired")
        record_case(
            session,
            system,
            "case.lease.expire",
            case.id,
            {"held_by": holder, "expired_at": expired_at.isoformat() if expired_at else None},
        )
        returned.append(case.id)
    return returned


def return_cases_held_by(session: Session, *, user_id: str, actor: Actor, reason: str) -> list[str]:
    """Every case the user holds lets go of them: cases in review go back to the queue, diagnosed
    cases stay diagnosed without a holder. Returns the case ids."""
    cases = session.scalars(
        select(Case)
        .where(Case.assigned_to == user_id, Case.status.in_(sorted(LEASED_STATUSES)))
        .with_for_update()
    ).all()
    for case in cases:
        if case.status is S.in_review:
            return_for_review(session, case, actor=actor, reason=reason)
        else:
            end_lease(case)
        record_case(session, actor, "case.lease.end", case.id, {"held_by": user_id, "reason": reason})
    return [c.id for c in cases]

"""The dermatologists' queue: list, claim, renew, release, assign.

Keyword-only functions that work inside the caller's transaction (routes open one per request).
Who sees what is the one rule of ``serving.cases.visibility``: another organization's case, or one
outside a dermatologist's licences, does not exist for the caller (404).

Claiming is atomic. On PostgreSQL the claim reads the top case with ``SELECT ... ORDER BY ...
LIMIT 1 FOR UPDATE SKIP LOCKED``: concurrent claimers lock different rows, and a row another
transaction has just claimed fails the ``status = 'queued'`` re-check, so no case is handed out
twice. On SQLite every transaction starts with ``BEGIN IMMEDIATE`` (see ``serving.db``), so
claims are serialized and the same holds. Expired leases go back first (``serving.queue.expiry``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.audit import record, record_case
from serving.auth import Client
from serving.cases.leases import LEASED_STATUSES, held_by, lease_active, start_lease
from serving.cases.models import Case
from serving.cases.states import IllegalMove, return_for_review, status_on_return, transition
from serving.cases.status import CaseStatus
from serving.cases.visibility import load_case, visible_cases
from serving.db import utcnow
from serving.errors import DomainError, Forbidden
from serving.orgs.service import Role
from serving.people.models import User
from serving.people.service import UserNotFound
from serving.queue.expiry import sweep_expired_leases
from serving.queue.order import QUEUE_ORDER, after, encode_cursor

DEFAULT_LEASE = timedelta(minutes=30)
S = CaseStatus
SIDE_LIST_LIMIT = 200  # emergency and in-review cases listed beside the queue


class LeaseRequired(DomainError):
    """The caller does not hold an unexpired lease on the case."""

    def __init__(self, case: Case, *, user_id: str | None, now: datetime):
        self.case_id = case.id
        self.status = case.status
        self.holder = case.assigned_to
        if case.assigned_to is None:
            why = "no one holds it"
        elif case.assigned_to != user_id:
            why = "another dermatologist holds it"
        elif not lease_active(case, now):
            why = "your lease on it has expired"
        else:
            why = "your lease does not cover this"
        super().__init__(
            409,
            "lease_required",
            f"you do not hold a lease on case {case.id!r} (status {case.status.value!r}): {why}",
            fix=f"Claim the case first (POST /v1/queue/claim with case_id), or renew your lease "
            f"(POST /v1/cases/{case.id}/lease) before it expires.",
            field="lease",
        )


class NotAReviewer(Forbidden):
    """The key is not a dermatologist's (or admin's) key that belongs to a person."""

    def __init__(self, message: str):
        super().__init__(message, fix="Use the API key of a dermatologist (or an admin).")


class AssigneeNotEligible(DomainError):
    """The user an admin tried to assign cannot take the case now (deactivated, not a dermatologist, not
    licensed there): a conflict with the user's state, like a case's status is."""

    def __init__(self, message: str):
        super().__init__(
            409,
            "assignee_not_eligible",
            message,
            fix="Assign an active dermatologist of your organization licensed in the case's jurisdiction.",
            field="user_id",
        )


@dataclass(frozen=True)
class QueuePage:
    as_of: datetime
    items: list[Case]  # queued cases, in queue order
    next_cursor: str | None
    emergency: list[Case]  # flagged for immediate action (first page only)
    in_review: list[Case]  # being reviewed now, with their holders (first page only)


def require_reviewer(client: Client, *, claim: bool = False) -> None:
    """A dermatologist with a user (licences), or an admin (who may not claim)."""
    if client.role is Role.admin and not claim:
        return
    if client.role is not Role.dermatologist:
        raise NotAReviewer("only a dermatologist's key can claim cases" if claim else "not a reviewer")
    if client.user_id is None:
        raise NotAReviewer(
            "this dermatologist key belongs to no user, so it has no licences; "
            "create the dermatologist with 'dermatriage users create' and use the key it prints"
        )


def require_lease(session: Session, *, case: Case, client: Client, now: datetime | None = None) -> None:
    """Raise LeaseRequired unless the caller holds an unexpired lease on ``case`` (admins may act
    without one). Load the case with ``load_case(..., for_update=True)`` first, so that the lease
    cannot change under the caller before its transaction commits."""
    if client.role is Role.admin:
        return
    now = now or utcnow()
    if not held_by(case, client.user_id, now):
        raise LeaseRequired(case, user_id=client.user_id, now=now)


def record_queue_read(
    session: Session,
    client: Client,
    items: list[Case],
    emergency: list[Case],
    in_review: list[Case],
    **page: Any,
) -> None:
    """The audit row of a look at the queue: every case listed, and which page (``page``)."""
    listed = {"cases": items, "emergency": emergency, "in_review": in_review}
    detail = {name: [c.id for c in cases] for name, cases in listed.items()}
    record(
        session,
        actor=client.actor,
        action="queue.read",
        resource_type="queue",
        resource_id=None,
        detail=detail | page,
    )


def side_lists(session: Session, client: Client) -> tuple[list[Case], list[Case]]:
    """The emergency cases and the cases in review the caller may see, in queue order."""
    emergency, in_review = (
        list(
            session.scalars(
                visible_cases(client)
                .where(Case.status == status)
                .order_by(*QUEUE_ORDER)
                .limit(SIDE_LIST_LIMIT)
            )
        )
        for status in (S.emergency, S.in_review)
    )
    return emergency, in_review


def list_queue(
    session: Session,
    *,
    client: Client,
    limit: int = 50,
    cursor: str | None = None,
    now: datetime | None = None,
) -> QueuePage:
    """One page of the caller's queue (queued cases in queue order); the first page also lists
    the emergency cases and the cases in review. Audited with the ids listed."""
    require_reviewer(client)
    now = now or utcnow()
    sweep_expired_leases(session, now=now, organization_id=client.organization.id, actor=client.actor)
    query = visible_cases(client).where(Case.status == S.queued)
    if cursor:
        query = query.where(after(cursor))
    rows = list(session.scalars(query.order_by(*QUEUE_ORDER).limit(limit + 1)))
    items, more = rows[:limit], len(rows) > limit
    emergency: list[Case] = []
    in_review: list[Case] = []
    if not cursor:
        emergency, in_review = side_lists(session, client)
    record_queue_read(session, client, items, emergency, in_review, page="next" if cursor else "first")
    next_cursor = encode_cursor(items[-1]) if more and items else None
    return QueuePage(
        as_of=now, items=items, next_cursor=next_cursor, emergency=emergency, in_review=in_review
    )


def claim_next(
    session: Session,
    *,
    client: Client,
    now: datetime | None = None,
    lease: timedelta = DEFAULT_LEASE,
    case_id: str | None = None,
) -> Case | None:
    """Take the top case of the caller's queue into review under a lease; None when nothing is left.

    With ``case_id``: take that case (a queued case, or an emergency case flagged for immediate
    action); raises CaseNotFound, or IllegalMove when it is not waiting for a dermatologist.
    """
    require_reviewer(client, claim=True)
    now = now or utcnow()
    sweep_expired_leases(session, now=now, organization_id=client.organization.id, actor=client.actor)
    if case_id is not None:
        case = load_case(session, client=client, case_id=case_id, for_update=True)
        if case.status not in (S.queued, S.emergency):
            raise IllegalMove(case.status, S.in_review)
    else:
        case = session.scalar(
            visible_cases(client)
            .where(Case.status == S.queued)
            .order_by(*QUEUE_ORDER)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if case is None:
            return None
    waited = (now - (case.last_queued_at or case.queued_at or case.created_at)).total_seconds()
    transition(session, case, S.in_review, actor=client.actor, reason="claimed")
    start_lease(case, user_id=client.user_id, now=now, duration=lease)
    record_case(
        session,
        client.actor,
        "case.claim",
        case.id,
        {
            "user_id": client.user_id,
            "lease_expires_at": case.lease_expires_at.isoformat(),
            "tier": case.tier.value,
            "waited_s": round(waited, 1),
        },
    )
    return case


def renew_lease(
    session: Session,
    *,
    client: Client,
    case_id: str,
    now: datetime | None = None,
    lease: timedelta = DEFAULT_LEASE,
) -> Case:
    """Extend the holder's lease to ``now + lease``. The holder may renew a lapsed lease as long as
    no one else has taken the case; an admin may extend whoever holds it."""
    require_reviewer(client)
    now = now or utcnow()
    case = load_case(session, client=client, case_id=case_id, for_update=True)
    holder_ok = client.user_id is not None and case.assigned_to == client.user_id
    admin_ok = client.role is Role.admin and case.assigned_to is not None
    if case.status not in LEASED_STATUSES or not (holder_ok or admin_ok):
        raise LeaseRequired(case, user_id=client.user_id, now=now)
    case.lease_expires_at = now + lease
    record_case(
        session,
        client.actor,
        "case.lease.renew",
        case.id,
        {"held_by": case.assigned_to, "lease_expires_at": case.lease_expires_at.isoformat()},
    )
    return case


def release(
    session: Session, *, client: Client, case_id: str, reason: str = "", now: datetime | None = None
) -> Case:
    """The holder (or an admin) puts a case in review back in the queue: an emergency back to
    ``emergency``, pinned above the queue (``serving.cases.states.return_for_review``)."""
    require_reviewer(client)
    now = now or utcnow()
    case = load_case(session, client=client, case_id=case_id, for_update=True)
    if case.status is not S.in_review:
        raise IllegalMove(case.status, status_on_return(case))
    holder = case.assigned_to
    if client.role is not Role.admin and (client.user_id is None or holder != client.user_id):
        raise LeaseRequired(case, user_id=client.user_id, now=now)
    return_for_review(session, case, actor=client.actor, reason=reason or "released")
    record_case(session, client.actor, "case.release", case.id, {"held_by": holder, "reason": reason})
    return case


def assign(
    session: Session,
    *,
    client: Client,
    case_id: str,
    user_id: str,
    now: datetime | None = None,
    lease: timedelta = DEFAULT_LEASE,
) -> Case:
    """An admin hands a case (queued, emergency, or in review with someone else) to a dermatologist
    of the organization who is active and licensed in the case's jurisdiction."""
    if client.role is not Role.admin:
        raise NotAReviewer("only an admin may assign cases")
    now = now or utcnow()
    case = load_case(session, client=client, case_id=case_id, for_update=True)
    target = session.scalar(
        select(User).where(User.id == user_id, User.organization_id == client.organization.id)
    )
    if target is None:  # another organization's user does not exist for the caller either
        raise UserNotFound(user_id)
    if not target.active:
        raise AssigneeNotEligible(f"{target.name} is deactivated")
    if target.role != Role.dermatologist.value:
        raise AssigneeNotEligible(f"{target.name} is not a dermatologist")
    if case.jurisdiction not in (target.jurisdictions or []):
        raise AssigneeNotEligible(f"{target.name} is not licensed in {case.jurisdiction}")
    previous = case.assigned_to
    if case.status in (S.queued, S.emergency):
        transition(session, case, S.in_review, actor=client.actor, reason=f"assigned to {target.name}")
    elif case.status is not S.in_review:
        raise IllegalMove(case.status, S.in_review)
    start_lease(case, user_id=target.id, now=now, duration=lease)
    record_case(
        session,
        client.actor,
        "case.assign",
        case.id,
        {
            "user_id": target.id,
            "from": previous,
            "lease_expires_at": case.lease_expires_at.isoformat(),
        },
    )
    return case

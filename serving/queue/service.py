"""The dermatologists' queue: list, claim, renew, release, assign; leases and their expiry.

Keyword-only functions that work inside the caller's transaction (routes open one per request).

Who sees what: a dermatologist sees the cases of their organization whose patient jurisdiction
is one they are licensed in; an admin sees every case of the organization. Another
organization's case, or one outside the caller's licences, does not exist for the caller (404).

Claiming is atomic. On PostgreSQL the claim reads the top case with ``SELECT ... ORDER BY ...
LIMIT 1 FOR UPDATE SKIP LOCKED``: concurrent claimers lock different rows, and a row another
transaction has just claimed fails the ``status = 'queued'`` re-check, so no case is handed out
twice. On SQLite every transaction starts with ``BEGIN IMMEDIATE`` (see ``serving.db``), so
claims are serialized and the same holds.

Leases expire lazily: every claim and every listing first returns the expired leases of the
organization to the queue (in the same transaction, audited), so an expired case is claimable
at once without a background job; ``sweep_expired_leases()`` also runs on its own
(``dermatriage queue sweep``).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from serving.audit import Actor, record
from serving.auth import Client
from serving.cases.models import Case
from serving.cases.service import CaseNotFound
from serving.cases.states import CaseStatus, IllegalMove, transition
from serving.db import utcnow
from serving.orgs.service import Role
from serving.people.models import User
from serving.queue.leases import LEASED_STATUSES, end_lease, held_by, lease_active, start_lease

__all__ = [
    "DEFAULT_LEASE",
    "AssigneeNotEligible",
    "CaseNotFound",
    "InvalidCursor",
    "LeaseRequired",
    "NotAReviewer",
    "QueuePage",
    "assign",
    "claim_next",
    "end_lease",
    "list_queue",
    "may_see",
    "release",
    "renew_lease",
    "require_lease",
    "return_cases_held_by",
    "sweep_expired_leases",
]

DEFAULT_LEASE = timedelta(minutes=30)
S = CaseStatus
#: the queue's order (see serving.queue.priority), served by the index ix_cases_queue_order
QUEUE_ORDER = (
    Case.review_due_at.asc().nulls_last(),
    Case.urgency_score.desc(),
    Case.created_at.asc(),
    Case.id.asc(),
)
SIDE_LIST_LIMIT = 200  # emergency and in-review cases listed beside the queue


class LeaseRequired(Exception):
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
        super().__init__(f"you do not hold a lease on case {case.id!r} (status {case.status!r}): {why}")


class NotAReviewer(Exception):
    """The key is not a dermatologist's (or admin's) key that belongs to a person."""


class AssigneeNotEligible(Exception):
    """The user an admin tried to assign cannot take the case."""


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True)
class QueuePage:
    as_of: datetime
    items: list[Case]  # queued cases, in queue order
    next_cursor: str | None
    emergency: list[Case]  # flagged for immediate action (first page only)
    in_review: list[Case]  # being reviewed now, with their holders (first page only)


# --- who may do what -------------------------------------------------------------------------


def _reviewer(client: Client, *, claim: bool = False) -> None:
    if client.role is Role.admin and not claim:
        return
    if client.role is not Role.dermatologist:
        raise NotAReviewer("only a dermatologist's key can claim cases" if claim else "not a reviewer")
    if client.user_id is None:
        raise NotAReviewer(
            "this dermatologist key belongs to no user, so it has no licences; "
            "create the dermatologist with 'dermatriage users create' and use the key it prints"
        )


def may_see(client: Client, case: Case) -> bool:
    """The caller may see this case: same organization and, for anyone but an admin, a patient
    jurisdiction among the caller's licences (the rule every queue query applies)."""
    if case.organization_id != client.organization.id:
        return False
    return client.role is Role.admin or case.jurisdiction in client.jurisdictions


def _visible(query: Select, client: Client) -> Select:
    query = query.where(Case.organization_id == client.organization.id)
    if client.role is not Role.admin:
        query = query.where(Case.jurisdiction.in_(sorted(client.jurisdictions)))
    return query


def _case_for_update(session: Session, client: Client, case_id: str) -> Case:
    case = session.scalar(_visible(select(Case).where(Case.id == case_id), client).with_for_update())
    if case is None:
        raise CaseNotFound(case_id)
    return case


def require_lease(session: Session, *, case: Case, client: Client, now: datetime | None = None) -> None:
    """Raise LeaseRequired unless the caller holds an unexpired lease on ``case`` (admins may act
    without one). Load the case with ``get_case(..., for_update=True)`` first, so that the lease
    cannot change under the caller before its transaction commits."""
    if client.role is Role.admin:
        return
    now = now or utcnow()
    if not held_by(case, client.user_id, now):
        raise LeaseRequired(case, user_id=client.user_id, now=now)


# --- expiry ----------------------------------------------------------------------------------


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
        Case.status == S.in_review.value,
        or_(Case.lease_expires_at <= now, Case.lease_expires_at.is_(None)),
    )
    if organization_id is not None:
        query = query.where(Case.organization_id == organization_id)
    query = query.order_by(Case.lease_expires_at).limit(limit).with_for_update(skip_locked=True)
    returned = []
    for case in session.scalars(query):
        holder, expired_at = case.assigned_to, case.lease_expires_at
        system = _system(case, actor)
        transition(session, case, S.queued, actor=system, reason="lease expired")
        record(
            session,
            actor=system,
            action="case.lease.expire",
            resource_type="case",
            resource_id=case.id,
            detail={"held_by": holder, "expired_at": expired_at.isoformat() if expired_at else None},
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
        if case.status == S.in_review.value:
            transition(session, case, S.queued, actor=actor, reason=reason)
        else:
            end_lease(case)
        record(
            session,
            actor=actor,
            action="case.lease.end",
            resource_type="case",
            resource_id=case.id,
            detail={"held_by": user_id, "reason": reason},
        )
    return [c.id for c in cases]


# --- the queue -------------------------------------------------------------------------------


def encode_cursor(case: Case) -> str:
    due = case.review_due_at.isoformat() if case.review_due_at else None
    raw = json.dumps([due, case.urgency_score, case.created_at.isoformat(), case.id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime | None, float, datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        due, urgency, created, case_id = json.loads(raw)
        due = datetime.fromisoformat(due) if due is not None else None
        created = datetime.fromisoformat(created)
        if not isinstance(urgency, int | float) or not isinstance(case_id, str):
            raise TypeError
        if created.tzinfo is None or (due is not None and due.tzinfo is None):
            raise TypeError
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise InvalidCursor(cursor) from exc
    return due, float(urgency), created, case_id


def _after(cursor: str):
    """Cases strictly after the cursor's case in queue order (keyset pagination)."""
    due, urgency, created, case_id = _decode_cursor(cursor)
    tail = or_(
        Case.urgency_score < urgency,
        and_(
            Case.urgency_score == urgency,
            or_(Case.created_at > created, and_(Case.created_at == created, Case.id > case_id)),
        ),
    )
    if due is None:
        return and_(Case.review_due_at.is_(None), tail)
    return or_(
        Case.review_due_at.is_(None),
        Case.review_due_at > due,
        and_(Case.review_due_at == due, tail),
    )


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
    _reviewer(client)
    now = now or utcnow()
    sweep_expired_leases(session, now=now, organization_id=client.organization.id, actor=client.actor)
    query = _visible(select(Case), client).where(Case.status == S.queued.value)
    if cursor:
        query = query.where(_after(cursor))
    rows = list(session.scalars(query.order_by(*QUEUE_ORDER).limit(limit + 1)))
    items, more = rows[:limit], len(rows) > limit
    emergency: list[Case] = []
    in_review: list[Case] = []
    if not cursor:
        emergency, in_review = (
            list(
                session.scalars(
                    _visible(select(Case), client)
                    .where(Case.status == status.value)
                    .order_by(*QUEUE_ORDER)
                    .limit(SIDE_LIST_LIMIT)
                )
            )
            for status in (S.emergency, S.in_review)
        )
    record(
        session,
        actor=client.actor,
        action="queue.read",
        resource_type="queue",
        resource_id=None,
        detail={
            "cases": [c.id for c in items],
            "emergency": [c.id for c in emergency],
            "in_review": [c.id for c in in_review],
            "page": "next" if cursor else "first",
        },
    )
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
    _reviewer(client, claim=True)
    now = now or utcnow()
    sweep_expired_leases(session, now=now, organization_id=client.organization.id, actor=client.actor)
    if case_id is not None:
        case = _case_for_update(session, client, case_id)
        if case.status not in (S.queued.value, S.emergency.value):
            raise IllegalMove(S(case.status), S.in_review)
    else:
        case = session.scalar(
            _visible(select(Case), client)
            .where(Case.status == S.queued.value)
            .order_by(*QUEUE_ORDER)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if case is None:
            return None
    waited = (now - (case.last_queued_at or case.queued_at or case.created_at)).total_seconds()
    transition(session, case, S.in_review, actor=client.actor, reason="claimed")
    start_lease(case, user_id=client.user_id, now=now, duration=lease)
    record(
        session,
        actor=client.actor,
        action="case.claim",
        resource_type="case",
        resource_id=case.id,
        detail={
            "user_id": client.user_id,
            "lease_expires_at": case.lease_expires_at.isoformat(),
            "tier": case.tier,
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
    _reviewer(client)
    now = now or utcnow()
    case = _case_for_update(session, client, case_id)
    holder_ok = client.user_id is not None and case.assigned_to == client.user_id
    admin_ok = client.role is Role.admin and case.assigned_to is not None
    if case.status not in LEASED_STATUSES or not (holder_ok or admin_ok):
        raise LeaseRequired(case, user_id=client.user_id, now=now)
    case.lease_expires_at = now + lease
    record(
        session,
        actor=client.actor,
        action="case.lease.renew",
        resource_type="case",
        resource_id=case.id,
        detail={"held_by": case.assigned_to, "lease_expires_at": case.lease_expires_at.isoformat()},
    )
    return case


def release(
    session: Session, *, client: Client, case_id: str, reason: str = "", now: datetime | None = None
) -> Case:
    """The holder (or an admin) puts a case in review back in the queue."""
    _reviewer(client)
    now = now or utcnow()
    case = _case_for_update(session, client, case_id)
    if case.status != S.in_review.value:
        raise IllegalMove(S(case.status), S.queued)
    holder = case.assigned_to
    if client.role is not Role.admin and (client.user_id is None or holder != client.user_id):
        raise LeaseRequired(case, user_id=client.user_id, now=now)
    transition(session, case, S.queued, actor=client.actor, reason=reason or "released")
    record(
        session,
        actor=client.actor,
        action="case.release",
        resource_type="case",
        resource_id=case.id,
        detail={"held_by": holder, "reason": reason},
    )
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
    case = _case_for_update(session, client, case_id)
    target = session.scalar(
        select(User).where(User.id == user_id, User.organization_id == client.organization.id)
    )
    if target is None:
        raise AssigneeNotEligible(f"no user {user_id!r} in your organization")
    if not target.active:
        raise AssigneeNotEligible(f"{target.name} is deactivated")
    if target.role != Role.dermatologist.value:
        raise AssigneeNotEligible(f"{target.name} is not a dermatologist")
    if case.jurisdiction not in (target.jurisdictions or []):
        raise AssigneeNotEligible(f"{target.name} is not licensed in {case.jurisdiction}")
    previous = case.assigned_to
    if case.status in (S.queued.value, S.emergency.value):
        transition(session, case, S.in_review, actor=client.actor, reason=f"assigned to {target.name}")
    elif case.status != S.in_review.value:
        raise IllegalMove(S(case.status), S.in_review)
    start_lease(case, user_id=target.id, now=now, duration=lease)
    record(
        session,
        actor=client.actor,
        action="case.assign",
        resource_type="case",
        resource_id=case.id,
        detail={
            "user_id": target.id,
            "from": previous,
            "lease_expires_at": case.lease_expires_at.isoformat(),
        },
    )
    return case

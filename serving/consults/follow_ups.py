"""Follow-ups: the dermatologist asks for new photos by a date. The photos come through
``POST /v1/cases/{id}/photos`` as the case's next batch, mark the follow-up received and put the
case back in the queue. A follow-up past its date without photos is overdue; the patient is
reminded once (``follow_up.due``) by ``emit_due_follow_ups``.

A case waiting for its follow-up is in no one's hands (scheduling ends the lease: the photos may be
weeks away). Until the photos come, the dermatologist who scheduled the follow-up (or an admin) may
still close the case (``require_scheduler``), e.g. when the patient reports the lesion has healed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.auth import Client
from serving.cases.models import Case
from serving.cases.status import CaseStatus
from serving.cases.visibility import visible_cases
from serving.consults import drafts
from serving.consults.common import acting_on, add_to_case, audit, move, record_action, rows_of
from serving.consults.models import FollowUp
from serving.consults.schemas import FollowUpIn
from serving.errors import DomainError
from serving.events import types
from serving.events.outbox import emit
from serving.orgs.service import Role
from serving.people.models import User

S = CaseStatus
SCHEDULED, RECEIVED, CANCELLED = "scheduled", "received", "cancelled"
#: the farthest a follow-up may be scheduled
MAX_AHEAD = timedelta(days=730)


def schedule(session: Session, *, client: Client, case_id: str, data: FollowUpIn, now: datetime):
    """A diagnosed case waits for follow-up photos by ``due_at``. Returns (case, follow-up)."""
    case = acting_on(session, client, case_id, now, allowed=(S.diagnosed,), action="get a follow-up")
    if data.due_at <= now:
        raise DomainError(
            422,
            "due_in_past",
            "the follow-up is due in the past",
            fix="Give a future 'due_at'.",
            field="due_at",
        )
    if data.due_at > now + MAX_AHEAD:
        raise DomainError(
            422,
            "due_too_far",
            "the follow-up is due more than two years ahead",
            fix="Give a 'due_at' within two years (is it in the right unit and year?).",
            field="due_at",
        )
    cancel_open(session, case=case)  # a new follow-up replaces one that was never answered
    follow_up = add_to_case(
        session,
        FollowUp,
        case,
        **data.model_dump(),
        status=SCHEDULED,
        created_at=now,
        created_by_user_id=client.user_id,
    )
    move(session, case, S.follow_up_scheduled, client=client, reason="follow-up scheduled")
    # with drafts held, the patient learns of the follow-up in the consult note that releases them
    held = bool(drafts.pending(session, case=case))
    record_action(
        session,
        client=client,
        case=case,
        action="consult.follow_up.schedule",
        detail={"follow_up_id": follow_up.id, "due_at": follow_up.due_at.isoformat(), "held": held},
        event=None if held else (types.FOLLOW_UP_SCHEDULED, _payload(follow_up)),
    )
    return case, follow_up


class FollowUpOwnerRequired(DomainError):
    """Someone other than the dermatologist who scheduled a case's open follow-up (or an admin) tried
    to act on the case while it waits for the follow-up photos."""

    def __init__(self, case: Case, *, action: str, scheduler: str):
        super().__init__(
            409,
            "follow_up_owner_required",
            f"case {case.id!r} is waiting for the follow-up photos {scheduler} asked for; only "
            f"{scheduler} or an admin can {action} it now",
            fix=f"Ask {scheduler} or an admin to {action} the case, or wait for the photos: the case then "
            "returns to the queue, where any dermatologist may claim it.",
            field="lease",
        )


def scheduled_by(case: Case, follow_ups: Iterable[FollowUp]) -> str | None:
    """Who may act on ``case`` while it waits for its follow-up photos without holding it: the user
    who scheduled its open follow-up (the latest, should there be more); None when the case is not
    waiting for one. A pure rule on the case's follow-ups (``of_case``), so that a page offers what
    the service allows."""
    if case.status is not S.follow_up_scheduled:
        return None
    waiting = [f for f in follow_ups if f.status == SCHEDULED]
    if not waiting:
        return None
    return max(waiting, key=lambda f: (f.created_at, f.id)).created_by_user_id


def require_scheduler(session: Session, *, case: Case, client: Client, action: str) -> bool:
    """For a case waiting for its follow-up (status ``follow_up_scheduled``, held by no one): True when
    the caller is an admin or the dermatologist who scheduled the open follow-up; raises
    FollowUpOwnerRequired (naming that dermatologist) for anyone else. False when the case is not
    waiting for a follow-up, or none is open (then the lease rule applies)."""
    scheduler = scheduled_by(case, _open(session, case.id))
    if scheduler is None:
        return False
    if client.role is Role.admin or (client.user_id is not None and client.user_id == scheduler):
        return True
    name = session.scalar(select(User.name).where(User.id == scheduler))
    raise FollowUpOwnerRequired(case, action=action, scheduler=name or "the dermatologist who scheduled it")


def _payload(f: FollowUp) -> dict:
    return {"follow_up_id": f.id, "due_at": f.due_at.isoformat(), "instructions": f.instructions}


def _open(session: Session, case_id: str) -> list[FollowUp]:
    return list(
        session.scalars(
            select(FollowUp)
            .where(FollowUp.case_id == case_id, FollowUp.status == SCHEDULED)
            .with_for_update()
        )
    )


def mark_received(session: Session, *, case: Case, batch: int, now: datetime) -> list[FollowUp]:
    """Photos arrived for a case waiting for its follow-up: the open follow-up is answered by ``batch``.
    Called by the case service when photos are added (inside its transaction)."""
    answered = _open(session, case.id)
    for follow_up in answered:
        follow_up.status = RECEIVED
        follow_up.received_at = now
        follow_up.received_batch = batch
    return answered


def cancel_open(session: Session, *, case: Case) -> list[FollowUp]:
    """The case moves on without the photos (a new follow-up, a referral, closure): its open
    follow-ups are cancelled. Returns them."""
    cancelled = _open(session, case.id)
    for follow_up in cancelled:
        follow_up.status = CANCELLED
    return cancelled


def of_case(session: Session, *, case: Case) -> list[FollowUp]:
    return rows_of(session, FollowUp, case, FollowUp.created_at, FollowUp.id)


def overdue(session: Session, *, client: Client, now: datetime, limit: int = 200) -> list[FollowUp]:
    """The organization's follow-ups past their date with no photos yet, most overdue first (for a
    dermatologist: of patients in the jurisdictions they are licensed in)."""
    query = (
        visible_cases(client, select(FollowUp).join(Case, Case.id == FollowUp.case_id))
        .where(FollowUp.status == SCHEDULED, FollowUp.due_at < now)
        .order_by(FollowUp.due_at, FollowUp.id)
        .limit(limit)
    )
    found = list(session.scalars(query))
    audit(
        session,
        client=client,
        action="consult.follow_up.overdue.list",
        resource_type="follow_up",
        resource_id=None,
        detail={"count": len(found)},
    )
    return found


def emit_due_follow_ups(session: Session, now: datetime, *, limit: int = 500) -> int:
    """Emit ``follow_up.due`` once for every follow-up that has come due without photos, in every
    organization. Safe to run from several workers at once (rows are locked and skipped on
    PostgreSQL; SQLite serializes writers). Returns how many were emitted."""
    due = list(
        session.scalars(
            select(FollowUp)
            .where(FollowUp.status == SCHEDULED, FollowUp.due_notified_at.is_(None), FollowUp.due_at <= now)
            .order_by(FollowUp.due_at, FollowUp.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for follow_up in due:
        follow_up.due_notified_at = now
        emit(
            session,
            organization_id=follow_up.organization_id,
            event_type=types.FOLLOW_UP_DUE,
            case_id=follow_up.case_id,
            payload=_payload(follow_up),
        )
    return len(due)

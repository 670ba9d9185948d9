"""What every consult action shares: the case it acts on (visible to the caller, locked, in an allowed
status, held under the caller's lease), moving it, and recording it (the audit row, the event)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.audit import record
from serving.auth import Client
from serving.cases.models import Case
from serving.cases.states import require_status, transition
from serving.cases.status import CaseStatus
from serving.cases.visibility import load_case
from serving.events.outbox import emit
from serving.orgs.service import Role
from serving.queue.service import require_lease

R = TypeVar("R")


def acting_on(
    session: Session,
    client: Client,
    case_id: str,
    now: datetime,
    *,
    allowed: Iterable[CaseStatus],
    action: str,
) -> Case:
    """The case a dermatologist acts on, locked: it is the caller's (else CaseNotFound), in one of the
    ``allowed`` statuses (else a 409 naming its status), and the caller holds its lease (else the
    queue's LeaseRequired; admins act without one)."""
    case = load_case(session, client=client, case_id=case_id, for_update=True)
    require_status(case, *allowed, action=action)
    require_lease(session, case=case, client=client, now=now)
    return case


def move(session: Session, case: Case, target: CaseStatus, *, client: Client, reason: str) -> None:
    """A state move (illegal -> IllegalMove; leaving in_review/diagnosed ends the lease)."""
    transition(session, case, target, actor=client.actor, reason=reason)


def audit(session: Session, *, client: Client, **entry: Any) -> None:
    """An audit row of the caller's (``entry``: action, resource_type, resource_id, detail)."""
    record(session, actor=client.actor, **entry)


def add_to_case(session: Session, row_type: type[R], case: Case, **values: Any) -> R:
    """A new row of ``row_type`` about ``case`` (its organization and case filled in), flushed so that
    its id is known."""
    row = row_type(organization_id=case.organization_id, case_id=case.id, **values)
    session.add(row)
    session.flush()
    return row


def rows_of(session: Session, row_type: type[R], case: Case, *order: Any) -> list[R]:
    """The rows of ``row_type`` about ``case`` in ``order`` (oldest first)."""
    return list(session.scalars(select(row_type).where(row_type.case_id == case.id).order_by(*order)))


def authored(client: Client, now: datetime, *, by: str = "created_by") -> dict[str, Any]:
    """When and by whom (the user and the key) a row was written: ``created_at``, ``<by>_user_id``,
    ``<by>_key_id``."""
    return {"created_at": now, f"{by}_user_id": client.user_id, f"{by}_key_id": client.key_id}


def record_action(
    session: Session,
    *,
    client: Client,
    case: Case,
    action: str,
    detail: dict[str, Any],
    event: tuple[str, dict[str, Any]] | None = None,
) -> None:
    """A consult action done on ``case``: its audit row and, where the patient must learn of it, its
    event (``(type, payload)``), both in the caller's transaction."""
    audit(session, client=client, action=action, resource_type="case", resource_id=case.id, detail=detail)
    if event is not None:
        event_type, payload = event
        emit(
            session,
            organization_id=case.organization_id,
            event_type=event_type,
            case_id=case.id,
            payload=payload,
        )


def sender_of(client: Client) -> str:
    return {Role.intake: "patient", Role.dermatologist: "dermatologist", Role.admin: "admin"}[client.role]

"""What every consult action shares: finding the case (organization-scoped, locked), checking the
caller holds its lease, moving it, auditing, and the domain errors routes turn into HTTP."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.audit import record
from serving.auth import Client
from serving.cases.models import Case
from serving.cases.service import CaseNotFound
from serving.cases.states import CaseStatus, transition
from serving.orgs.service import Role
from serving.queue.service import require_lease


class NotFound(Exception):
    """No such prescription / renewal request / message in the caller's organization."""

    def __init__(self, what: str, ident: str):
        super().__init__(f"no {what} {ident!r}")
        self.what = what
        self.ident = ident


class ConsultError(Exception):
    """A request the consult rules refuse: ``status`` (422 bad content, 409 wrong moment, 403 not
    allowed), a machine ``code``, the ``message``, what to ``fix`` and the ``field`` at fault."""

    def __init__(self, status: int, code: str, message: str, *, fix: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fix = fix
        self.field = field


def load_case(session: Session, *, client: Client, case_id: str, for_update: bool = True) -> Case:
    """The caller's case, locked for the rest of the transaction: of the caller's organization and,
    for a dermatologist, of a patient in a jurisdiction they are licensed in (else CaseNotFound)."""
    query = select(Case).where(Case.id == case_id, Case.organization_id == client.organization.id)
    if client.role is Role.dermatologist:
        query = query.where(Case.jurisdiction.in_(sorted(client.jurisdictions)))
    if for_update:
        query = query.with_for_update()
    case = session.scalar(query)
    if case is None:
        raise CaseNotFound(case_id)
    return case


def acting_on(
    session: Session,
    *,
    client: Client,
    case_id: str,
    now: datetime,
    allowed: Iterable[CaseStatus],
    action: str,
) -> Case:
    """The case a dermatologist acts on, locked: it is the caller's (else CaseNotFound), in one of the
    ``allowed`` statuses (else a 409 naming its status), and the caller holds its lease (else the
    queue's LeaseRequired; admins act without one)."""
    case = load_case(session, client=client, case_id=case_id)
    require_status(case, *allowed, action=action)
    require_lease(session, case=case, client=client, now=now)
    return case


def require_status(case: Case, *allowed: CaseStatus, action: str) -> CaseStatus:
    """409 naming the current status unless the case is in one of ``allowed``."""
    current = CaseStatus(case.status)
    if current not in allowed:
        raise illegal_state(current, action, allowed)
    return current


def illegal_state(current: CaseStatus, action: str, allowed=()) -> ConsultError:
    where = ", ".join(repr(s.value) for s in allowed)
    return ConsultError(
        409,
        "illegal_state",
        f"a case in status {current.value!r} cannot {action}",
        fix=f"This is possible while the case is in status {where}." if where else "Check the case's status.",
        field="status",
    )


def move(session: Session, case: Case, target: CaseStatus, *, client: Client, reason: str) -> None:
    """A state move (illegal -> IllegalMove; leaving in_review/diagnosed ends the lease)."""
    transition(session, case, target, actor=client.actor, reason=reason)


def audit(
    session: Session,
    *,
    client: Client,
    action: str,
    resource_type: str,
    resource_id: str | None,
    detail: dict[str, Any] | None = None,
    outcome: str = "ok",
) -> None:
    record(
        session,
        actor=client.actor,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        outcome=outcome,
        detail=detail,
    )


def sender_of(client: Client) -> str:
    return {Role.intake: "patient", Role.dermatologist: "dermatologist", Role.admin: "admin"}[client.role]

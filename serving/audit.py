"""The append-only audit log of every read and write of patient data.

Each row says who (organization, key, role), what (action on which resource, with what
outcome), when and from which address. Rows are written in the same transaction as the
change they describe; database triggers (see the migration) refuse UPDATE and DELETE.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from serving.db import Base, UtcDateTime, transaction, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    organization_id: Mapped[str | None] = mapped_column(String(36), index=True)
    actor_key_id: Mapped[str | None] = mapped_column(String(36))
    actor_role: Mapped[str | None] = mapped_column(String(32))
    #: the person behind the key (dermatologists and admins), when the key belongs to one
    actor_user_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    action: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str | None] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(32), default="ok")
    client_address: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


@dataclass(frozen=True)
class Actor:
    """Who is acting: an API key of an organization (and the user it belongs to, if any), or an
    operator at the command line."""

    organization_id: str | None
    key_id: str | None
    role: str
    client_address: str | None = None
    request_id: str | None = None
    user_id: str | None = None


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    resource_type: str,
    resource_id: str | None,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEvent(
            organization_id=actor.organization_id,
            actor_key_id=actor.key_id,
            actor_role=actor.role,
            actor_user_id=actor.user_id,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            outcome=outcome,
            client_address=actor.client_address,
            request_id=actor.request_id,
            detail=detail,
        )
    )


def record_case(
    session: Session, actor: Actor, action: str, case_id: str, detail: dict[str, Any] | None = None
) -> None:
    """An audit row about a case (the commonest kind)."""
    record(session, actor=actor, action=action, resource_type="case", resource_id=case_id, detail=detail)


def record_refused_lookup(
    sessions: sessionmaker[Session], *, actor: Actor, action: str, resource_type: str, resource_id: str
) -> None:
    """Audit a look-up that found nothing the caller may see (another organization's id, one outside
    their licences, or none at all), in a transaction of its own: the request's own transaction has
    rolled back, and the attempt must stay on record."""
    with transaction(sessions) as session:
        record(
            session,
            actor=actor,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id[:64],
            outcome="not_found",
        )


def events_for(session: Session, *, resource_id: str) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.resource_id == resource_id).order_by(AuditEvent.id)
        )
    )

"""The outbox: one row per event, with its delivery state; one row per delivery attempt."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from serving.db import Base, UtcDateTime, new_id, utcnow

#: a BIGINT primary key that autoincrements on SQLite too (SQLite only does so for INTEGER)
_SEQUENCE = BigInteger().with_variant(Integer, "sqlite")


class DeliveryState(StrEnum):
    pending = "pending"  # to be sent to the organization's webhook (due at next_attempt_at)
    delivered = "delivered"  # the webhook answered 2xx
    failed = "failed"  # retried for the whole retry window without a 2xx; given up (still in the feed)
    skipped = "skipped"  # the organization had no webhook; the event is in the feed only


class OutboxEvent(Base):
    """An event, written in the same transaction as the change it reports.

    ``sequence`` orders all events and is the feed's cursor; ``id`` (a UUID) is what receivers
    de-duplicate on, since delivery is at least once.
    """

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_org_sequence", "organization_id", "sequence"),
        Index("ix_outbox_events_case_sequence", "case_id", "sequence"),
        Index("ix_outbox_events_state_due", "delivery_state", "next_attempt_at"),
    )

    sequence: Mapped[int] = mapped_column(_SEQUENCE, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    event_type: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str | None] = mapped_column(String(36), default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    delivery_state: Mapped[str] = mapped_column(String(16), default=DeliveryState.pending.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: when the next attempt is due; while an attempt is in flight, when its claim lapses
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    #: set by the worker that claimed the event; only that worker may record the attempt's result
    claim_token: Mapped[str | None] = mapped_column(String(32), default=None)


class DeliveryAttempt(Base):
    """One POST of an event to a webhook, whatever came of it."""

    __tablename__ = "event_delivery_attempts"

    id: Mapped[int] = mapped_column(_SEQUENCE, primary_key=True, autoincrement=True)
    event_sequence: Mapped[int] = mapped_column(ForeignKey("outbox_events.sequence"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(String(500), default=None)

"""Writing events: ``emit()`` adds one to the outbox inside the caller's transaction.

The event commits, or rolls back, with the change it reports. Nothing is sent from here: the
delivery worker sends what was committed.

Feed order: on PostgreSQL, ``emit()`` first takes a transaction-level advisory lock, so that
event-writing transactions commit in the order of their sequence numbers (from the ``emit()`` to
the commit they are serialized). Without it a reader of ``GET /v1/events`` could see event 11
committed before event 10, move its cursor past 10 and never see it. SQLite serializes every
write transaction already (``BEGIN IMMEDIATE``). Call ``emit()`` near the end of a transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text, update
from sqlalchemy.orm import Session

from serving.db import utcnow
from serving.events import recipients
from serving.events.models import DeliveryState, OutboxEvent
from serving.events.types import ALL_TYPES
from serving.orgs.models import Organization

_FEED_ORDER_LOCK = 7_210_043  # arbitrary, fixed: "dermatriage outbox order"


def emit(
    session: Session,
    *,
    organization_id: str,
    event_type: str,
    case_id: str | None,
    payload: dict[str, Any],
) -> OutboxEvent:
    """Add an event to the outbox in the caller's transaction (flushed, not committed).

    It is to be delivered if the organization has a webhook now; otherwise it is in the feed only.
    An event of a case says who must receive it (``recipients.addressed``: the patient, or the caregiver
    who submitted the case, named in its patient-facing texts; or a recipient the emitter set).
    """
    if event_type not in ALL_TYPES:
        raise ValueError(f"unknown event type {event_type!r}; add it to serving/events/types.py")
    org = session.get(Organization, organization_id)
    if org is None:
        raise ValueError(f"no organization {organization_id!r}")
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _FEED_ORDER_LOCK})
    submitted_by = recipients.submitter_of(session, case_id) if case_id is not None else None
    if submitted_by is not None:
        payload = recipients.addressed(payload, submitted_by)
    now = utcnow()
    deliver = org.webhook_url is not None
    event = OutboxEvent(
        organization_id=organization_id,
        event_type=event_type,
        case_id=case_id,
        payload=payload,
        created_at=now,
        delivery_state=(DeliveryState.pending if deliver else DeliveryState.skipped).value,
        attempts=0,
        next_attempt_at=now if deliver else None,
    )
    session.add(event)
    session.flush()  # the sequence number is taken now, under the lock
    return event


def skip_pending(session: Session, *, organization_id: str) -> int:
    """The organization removed its webhook: its undelivered events stay in the feed only."""
    result = session.execute(
        update(OutboxEvent)
        .where(
            OutboxEvent.organization_id == organization_id,
            OutboxEvent.delivery_state == DeliveryState.pending.value,
        )
        .values(delivery_state=DeliveryState.skipped.value, next_attempt_at=None, claim_token=None)
    )
    return result.rowcount

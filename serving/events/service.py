"""Reading events (the feed) and configuring an organization's webhook, audited."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from serving.audit import Actor, record
from serving.db import transaction
from serving.events.models import DeliveryState, OutboxEvent
from serving.orgs.models import Organization
from serving.orgs.service import set_webhook

MAX_PAGE = 500


@dataclass(frozen=True)
class FeedPage:
    events: list[OutboxEvent]
    next_cursor: int
    has_more: bool


@dataclass(frozen=True)
class WebhookStatus:
    url: str | None
    secret: str | None  # only when a new one was just made: shown once
    pending: int
    failed: int


def read_feed(
    sessions: sessionmaker[Session], *, org: Organization, actor: Actor, after: int, limit: int
) -> FeedPage:
    """The organization's events with a sequence above ``after``, oldest first."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    with transaction(sessions) as session:
        rows = list(
            session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.organization_id == org.id, OutboxEvent.sequence > after)
                .order_by(OutboxEvent.sequence)
                .limit(limit + 1)
            )
        )
        events, has_more = rows[:limit], len(rows) > limit
        record(
            session,
            actor=actor,
            action="events.read",
            resource_type="events",
            resource_id=None,
            detail={
                "after": after,
                "count": len(events),
                "case_ids": sorted({e.case_id for e in events if e.case_id}),
            },
        )
    return FeedPage(events=events, next_cursor=events[-1].sequence if events else after, has_more=has_more)


def _counts(session: Session, org: Organization) -> tuple[int, int]:
    rows = dict(
        session.execute(
            select(OutboxEvent.delivery_state, func.count())
            .where(
                OutboxEvent.organization_id == org.id,
                OutboxEvent.delivery_state.in_([DeliveryState.pending.value, DeliveryState.failed.value]),
            )
            .group_by(OutboxEvent.delivery_state)
        ).all()
    )
    return rows.get(DeliveryState.pending.value, 0), rows.get(DeliveryState.failed.value, 0)


def webhook_status(sessions: sessionmaker[Session], *, org: Organization, actor: Actor) -> WebhookStatus:
    with transaction(sessions) as session:
        current = session.get(Organization, org.id)
        pending, failed = _counts(session, current)
        record(session, actor=actor, action="webhook.read", resource_type="organization", resource_id=org.id)
        return WebhookStatus(url=current.webhook_url, secret=None, pending=pending, failed=failed)


def configure_webhook(
    sessions: sessionmaker[Session],
    *,
    org: Organization,
    actor: Actor,
    url: str | None,
    rotate_secret: bool = False,
) -> WebhookStatus:
    """Set (or with ``url=None`` remove) the webhook; raises OrgError for a URL that cannot be used."""
    with transaction(sessions) as session:
        current = session.get(Organization, org.id, with_for_update=True)
        secret = set_webhook(session, org=current, url=url, rotate_secret=rotate_secret)
        record(
            session,
            actor=actor,
            action="webhook.remove" if url is None else "webhook.set",
            resource_type="organization",
            resource_id=org.id,
            detail={"new_secret": secret is not None},  # never the secret itself
        )
        pending, failed = _counts(session, current)
        return WebhookStatus(url=current.webhook_url, secret=secret, pending=pending, failed=failed)

"""Reading events (the feed) and configuring an organization's webhook, audited."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from serving.audit import Actor, record
from serving.db import transaction
from serving.encryption import keyring_of
from serving.errors import DomainError
from serving.events.models import DeliveryState, OutboxEvent
from serving.events.outbox import skip_pending
from serving.events.secrets import seal_secret
from serving.events.signing import new_secret
from serving.orgs.models import Organization

MAX_PAGE = 500


class WebhookUrlRefused(DomainError):
    def __init__(self, problem: str):
        super().__init__(
            422, "invalid_webhook_url", problem, fix="Send an absolute https:// URL.", field="url"
        )


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


def webhook_url_problem(url: str) -> str | None:
    """Why ``url`` cannot receive events, or None when it can."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced '[' of an IPv6 address
        return "the webhook URL cannot be parsed; send an absolute http:// or https:// URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "the webhook URL must be an absolute http:// or https:// URL, e.g. https://app.example/hooks"
    if parts.username or parts.password:
        return "the webhook URL must not carry a user name or password; events are signed instead"
    if parts.fragment:
        return "the webhook URL must not have a #fragment"
    if len(url) > 2000:
        return "the webhook URL must be at most 2000 characters"
    return None


def set_webhook(
    session: Session, *, org: Organization, url: str | None, rotate_secret: bool = False
) -> str | None:
    """Point the organization's events at ``url`` (None: stop sending; the feed keeps them).

    Returns the signing secret when a new one was made (the first URL, or ``rotate_secret``):
    the only time it is shown. Changing the URL keeps the secret.
    """
    if url is None:
        org.webhook_url = None
        org.webhook_secret = None
        skip_pending(session, organization_id=org.id)
        return None
    url = url.strip()
    problem = webhook_url_problem(url)
    if problem:
        raise WebhookUrlRefused(problem)
    org.webhook_url = url
    if org.webhook_secret is None or rotate_secret:
        if org.id is None:
            session.flush()  # the secret is sealed for its organization's id
        secret = new_secret()
        org.webhook_secret = seal_secret(keyring_of(session), org.id, secret)  # clear only with no key
        return secret
    return None


def configure_webhook(
    sessions: sessionmaker[Session],
    *,
    org: Organization,
    actor: Actor,
    url: str | None,
    rotate_secret: bool = False,
) -> WebhookStatus:
    """Set (or with ``url=None`` remove) the webhook; WebhookUrlRefused for a URL that cannot be used."""
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

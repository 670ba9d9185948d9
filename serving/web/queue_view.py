"""What the queue page shows: a page of the caller's queue as the API lists it (``list_queue``), or
the queued cases of one tier, with the emergency cases pinned above and the cases in review.

The tier filter is a query of its own (``list_queue`` has no tier parameter): the same visibility
rule (``visible_cases``), the same order (``QUEUE_ORDER``), numbered pages, and an audit row like
``list_queue``'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from model.triage.tiers import Tier
from serving.audit import record
from serving.auth import Client
from serving.cases.leases import LEASED_STATUSES
from serving.cases.models import Case
from serving.cases.status import CaseStatus
from serving.cases.visibility import visible_cases
from serving.people.models import User
from serving.queue.expiry import sweep_expired_leases
from serving.queue.order import QUEUE_ORDER
from serving.queue.schemas import QueueItemOut, queue_item
from serving.queue.service import SIDE_LIST_LIMIT, list_queue, record_queue_read, side_lists

PAGE_SIZE = 25
TIERS = tuple(t for t in Tier.by_severity() if t is not Tier.EMERGENCY)


@dataclass
class QueueView:
    as_of: datetime
    items: list[QueueItemOut]
    emergency: list[QueueItemOut]
    in_review: list[QueueItemOut]
    mine: list[QueueItemOut]
    holders: dict[str, str] = field(default_factory=dict)
    tier: Tier | None = None
    next_cursor: str | None = None
    page: int = 0
    has_more: bool = False
    first_page: bool = True


def _held_by_me(session: Session, client: Client) -> list[Case]:
    if client.user_id is None:
        return []
    return list(
        session.scalars(
            visible_cases(client)
            .where(Case.assigned_to == client.user_id, Case.status.in_(sorted(LEASED_STATUSES)))
            .order_by(*QUEUE_ORDER)
            .limit(SIDE_LIST_LIMIT)
        )
    )


def _tier_page(session: Session, client: Client, *, tier: Tier, page: int, now: datetime):
    sweep_expired_leases(session, now=now, organization_id=client.organization.id, actor=client.actor)
    rows = list(
        session.scalars(
            visible_cases(client)
            .where(Case.status == CaseStatus.queued, Case.tier == tier)
            .order_by(*QUEUE_ORDER)
            .offset(page * PAGE_SIZE)
            .limit(PAGE_SIZE + 1)
        )
    )
    side = side_lists(session, client) if page == 0 else ([], [])
    items = rows[:PAGE_SIZE]
    record_queue_read(session, client, items, side[0], side[1], tier=tier.value, page=page)
    return items, side[0], side[1], len(rows) > PAGE_SIZE


def queue_view(
    session: Session, *, client: Client, now: datetime, tier: Tier | None, cursor: str | None, page: int
) -> QueueView:
    """The page's content; raises the queue service's InvalidCursor for a cursor it did not hand out."""
    if tier:
        items, emergency, in_review, more = _tier_page(session, client, tier=tier, page=page, now=now)
        view = QueueView(
            as_of=now, items=[], emergency=[], in_review=[], mine=[], tier=tier, page=page, has_more=more
        )
        view.first_page = page == 0
    else:
        listed = list_queue(session, client=client, limit=PAGE_SIZE, cursor=cursor, now=now)
        items, emergency, in_review = listed.items, listed.emergency, listed.in_review
        view = QueueView(
            as_of=now,
            items=[],
            emergency=[],
            in_review=[],
            mine=[],
            next_cursor=listed.next_cursor,
            has_more=listed.next_cursor is not None,
            first_page=cursor is None,
        )
    mine = _held_by_me(session, client) if view.first_page else []
    view.items = [queue_item(c, now) for c in items]
    view.emergency = [queue_item(c, now) for c in emergency]
    view.in_review = [queue_item(c, now) for c in in_review]
    view.mine = [queue_item(c, now) for c in mine]
    holder_ids = {c.assigned_to for c in (*in_review, *mine) if c.assigned_to}
    if holder_ids:
        view.holders = dict(session.execute(select(User.id, User.name).where(User.id.in_(holder_ids))).all())
    if mine:
        record(
            session,
            actor=client.actor,
            action="queue.held.read",
            resource_type="queue",
            resource_id=None,
            detail={"cases": [c.id for c in mine]},
        )
    return view

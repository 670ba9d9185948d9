"""What the queue page shows: a page of the caller's queue as the API lists it (``list_queue``), or
the queued cases of one tier, with the emergency cases pinned above and the cases in review.

The tier filter is a query of its own (``list_queue`` has no tier parameter): the same visibility
rule (``visible_cases``), the same order (``QUEUE_ORDER``), numbered pages, and an audit row like
``list_queue``'s.

Each row carries what a dermatologist triages by at a glance: the first photo's thumbnail, age and
sex, the patient's concern, and why a case is back from the patient (``serving.web.returning``).

``queue_version`` is the queue's change token for the live updates (``/queue/live``): a digest of the
visible cases the page can show (same visibility rule), of what their rows show apart from the clock,
and of their threads' latest message. It changes when a row would; the page is sent (and audited as a
read) only then.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from model.triage.tiers import Tier
from serving.audit import record
from serving.auth import Client
from serving.cases.leases import LEASED_STATUSES
from serving.cases.models import Case
from serving.cases.status import CaseStatus
from serving.cases.visibility import visible_cases
from serving.consults.models import Message
from serving.people.models import User
from serving.queue.expiry import sweep_expired_leases
from serving.queue.order import QUEUE_ORDER
from serving.queue.schemas import QueueItemOut, queue_item
from serving.queue.service import SIDE_LIST_LIMIT, list_queue, record_queue_read, side_lists
from serving.web.returning import Return, returns_of

PAGE_SIZE = 25
TIERS = tuple(t for t in Tier.by_severity() if t is not Tier.EMERGENCY)


#: the statuses of the cases the page lists (queued, pinned emergencies, in review and held)
SHOWN_STATUSES = tuple(sorted({CaseStatus.queued, CaseStatus.emergency, *LEASED_STATUSES}))


@dataclass(frozen=True)
class QueueRow:
    """One row: the queue item as the API lists it, and what the page adds to it."""

    item: QueueItemOut
    thumbnail_url: str | None
    age: int | None
    sex: str | None
    concern: str | None
    returns: tuple[Return, ...] = ()

    @property
    def age_sex(self) -> str:
        """'61 · female', '61', 'female' or ''."""
        return " · ".join(str(part) for part in (self.age, self.sex) if part not in (None, "", "unknown"))


def queue_row(case: Case, now: datetime, returns: tuple[Return, ...] = ()) -> QueueRow:
    answers = case.questionnaire or {}
    first = case.photos[0] if case.photos else None  # photos come in (batch, position) order
    thumbnail = f"/cases/{case.id}/photos/{first.id}/thumbnail" if first else None
    concern = answers.get("concern")
    return QueueRow(
        item=queue_item(case, now),
        thumbnail_url=thumbnail,
        age=answers.get("age"),
        sex=answers.get("sex"),
        concern=concern.strip() if isinstance(concern, str) and concern.strip() else None,
        returns=returns,
    )


@dataclass
class QueueView:
    as_of: datetime
    items: list[QueueRow]
    emergency: list[QueueRow]
    in_review: list[QueueRow]
    mine: list[QueueRow]
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
    back = returns_of(session, [*items, *emergency, *in_review, *mine])
    view.items = [queue_row(c, now, back.get(c.id, ())) for c in items]
    view.emergency = [queue_row(c, now, back.get(c.id, ())) for c in emergency]
    view.in_review = [queue_row(c, now, back.get(c.id, ())) for c in in_review]
    view.mine = [queue_row(c, now, back.get(c.id, ())) for c in mine]
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


def queue_version(session: Session, *, client: Client, now: datetime) -> str:
    """The change token of what the caller's queue page shows (see the module's docstring). Expired
    leases go back first, as for a listing, so a case whose lease ran out shows up as it returns."""
    sweep_expired_leases(session, now=now, organization_id=client.organization.id, actor=client.actor)
    columns = (
        Case.id,
        Case.status,
        Case.tier,
        Case.urgency_score,
        Case.review_due_at,
        Case.last_queued_at,
        Case.updated_at,
        Case.assigned_to,
        Case.retake_required,
    )
    shown = visible_cases(client, select(*columns)).where(Case.status.in_(SHOWN_STATUSES))
    rows = sorted(tuple(str(v) for v in row) for row in session.execute(shown))
    latest_message = session.scalar(
        visible_cases(client, select(func.max(Message.created_at)))
        .join_from(Message, Case, Message.case_id == Case.id)
        .where(Case.status.in_(SHOWN_STATUSES))
    )
    digest = hashlib.sha256(repr((client.user_id, rows, str(latest_message))).encode())
    return digest.hexdigest()[:24]

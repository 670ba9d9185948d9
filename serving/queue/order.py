"""The queue's order in the database (``ORDER BY`` on the index ``ix_cases_queue_order``, the same
order as the pure ``serving.queue.priority``), and keyset pagination over it: a cursor names the last
case of a page, the next page starts strictly after it."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from sqlalchemy import and_, or_

from serving.cases.models import Case
from serving.errors import DomainError

#: the queue's order (see serving.queue.priority), served by the index ix_cases_queue_order
QUEUE_ORDER = (
    Case.review_due_at.asc().nulls_last(),
    Case.urgency_score.desc(),
    Case.created_at.asc(),
    Case.id.asc(),
)


class InvalidCursor(DomainError):
    def __init__(self, cursor: str):
        super().__init__(
            422,
            "invalid_cursor",
            "the cursor is not one this API handed out",
            fix="Pass the next_cursor of the previous page unchanged, or omit it for the first page.",
            field="cursor",
        )


def encode_cursor(case: Case) -> str:
    due = case.review_due_at.isoformat() if case.review_due_at else None
    raw = json.dumps([due, case.urgency_score, case.created_at.isoformat(), case.id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime | None, float, datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        due, urgency, created, case_id = json.loads(raw)
        due = datetime.fromisoformat(due) if due is not None else None
        created = datetime.fromisoformat(created)
        if not isinstance(urgency, int | float) or not isinstance(case_id, str):
            raise TypeError
        if created.tzinfo is None or (due is not None and due.tzinfo is None):
            raise TypeError
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise InvalidCursor(cursor) from exc
    return due, float(urgency), created, case_id


def after(cursor: str):
    """Cases strictly after the cursor's case in queue order (keyset pagination)."""
    due, urgency, created, case_id = _decode_cursor(cursor)
    tail = or_(
        Case.urgency_score < urgency,
        and_(
            Case.urgency_score == urgency,
            or_(Case.created_at > created, and_(Case.created_at == created, Case.id > case_id)),
        ),
    )
    if due is None:
        return and_(Case.review_due_at.is_(None), tail)
    return or_(
        Case.review_due_at.is_(None),
        Case.review_due_at > due,
        and_(Case.review_due_at == due, tail),
    )

"""The queue's order, as a pure function: most pressing first.

1. ``review_due_at`` ascending: the case whose review SLA runs out first (a case without a due
   time, which a queued case never is, goes last);
2. ``urgency_score`` descending: among equal due times, the more worrying case;
3. ``created_at`` ascending: then the older case;
4. ``id``: a fixed tie-break, so that the order (and a page cursor) is total.

``serving.queue.service`` reads the database in exactly this order (``ORDER BY review_due_at,
urgency_score DESC, created_at, id`` on the index ``ix_cases_queue_order``); the tests check
that the two agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol, TypeVar


class Queued(Protocol):
    id: str
    review_due_at: datetime | None
    urgency_score: float
    created_at: datetime


T = TypeVar("T", bound=Queued)


def priority_key(case: Queued) -> tuple:
    """Sort key: smaller comes first."""
    due = case.review_due_at
    # (among cases without a due time the second element only repeats created_at: never compared to a due)
    return (
        due is None,
        due if due is not None else case.created_at,
        -case.urgency_score,
        case.created_at,
        case.id,
    )


def in_queue_order(cases: Iterable[T]) -> list[T]:
    return sorted(cases, key=priority_key)

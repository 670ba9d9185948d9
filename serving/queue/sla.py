"""SLA figures, as pure functions of the cases they describe (the database reads are in
``serving.queue.metrics``).

- queue depth per tier, overdue count and the oldest waiting case;
- compliance over a window: of the cases first reviewed in the window, the share reviewed by
  the due time of their first review (``Case.first_review_due_at``: a case that later returns to
  the queue gets a new ``review_due_at`` for its place there, never a new first-review due time;
  and, to compare with platforms that promise "90% within 24 hours", the share reviewed within 24
  hours of entering the queue); cases never reviewed and still waiting past their due time inside
  the window are reported beside it, and counted as misses in a second share, so a neglected queue
  cannot look healthy;
- cases predicted to breach (see ``predict_breaches``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from model.triage.tiers import Tier
from serving.queue.priority import in_queue_order

PLATFORM_PROMISE = timedelta(hours=24)  # "90% reviewed within 24 hours"
DEFAULT_HORIZON = timedelta(hours=1)


@dataclass(frozen=True)
class WaitingCase:
    """A queued case (status ``queued``)."""

    id: str
    tier: str
    urgency_score: float
    review_due_at: datetime | None
    created_at: datetime
    waiting_since: datetime
    #: a dermatologist has taken it before (it returned: released, new photos, an answer): its first
    #: review is among the reviewed cases, not owed
    first_reviewed: bool = False


@dataclass(frozen=True)
class ReviewedCase:
    queued_at: datetime | None
    review_due_at: datetime | None  # the first review's due time (``Case.first_review_due_at``)
    first_reviewed_at: datetime


@dataclass(frozen=True)
class OldestWaiting:
    case_id: str
    tier: str
    waited_s: int


@dataclass(frozen=True)
class Compliance:
    window_start: datetime
    reviewed: int  # first reviewed inside the window
    within_sla: int  # ... by their review_due_at
    share_within_sla: float | None  # within_sla / reviewed; None when nothing was reviewed
    overdue_unreviewed: int  # never reviewed, still waiting, due inside the window and already past it
    share_counting_overdue: float | None  # within_sla / (reviewed + overdue_unreviewed)
    within_24h: int
    share_within_24h: float | None


@dataclass(frozen=True)
class Breach:
    case_id: str
    tier: str
    review_due_at: datetime | None
    expected_review_at: datetime | None  # None with the no-throughput fallback


@dataclass(frozen=True)
class BreachForecast:
    method: str  # "throughput" or "due_soon"
    claims_per_hour: float
    horizon_s: int | None  # for "due_soon"
    cases: list[Breach] = field(default_factory=list)


def depth_per_tier(waiting: Sequence[WaitingCase]) -> dict[str, int]:
    """Queued cases per tier, every tier listed (most severe first)."""
    depth = {tier.value: 0 for tier in Tier.by_severity()}
    for case in waiting:
        depth[case.tier] = depth.get(case.tier, 0) + 1
    return depth


def oldest_waiting(waiting: Sequence[WaitingCase], now: datetime) -> OldestWaiting | None:
    if not waiting:
        return None
    case = min(waiting, key=lambda c: (c.waiting_since, c.id))
    return OldestWaiting(
        case_id=case.id, tier=case.tier, waited_s=int((now - case.waiting_since).total_seconds())
    )


def overdue_count(waiting: Sequence[WaitingCase], now: datetime) -> int:
    return sum(1 for c in waiting if c.review_due_at is not None and c.review_due_at < now)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def compliance(
    reviewed: Sequence[ReviewedCase], waiting: Sequence[WaitingCase], *, now: datetime, window: timedelta
) -> Compliance:
    """SLA compliance of the cases first reviewed in ``[now - window, now]``.

    A case met its SLA when ``first_reviewed_at <= review_due_at`` (its first review's due time).
    """
    start = now - window
    in_window = [r for r in reviewed if start <= r.first_reviewed_at <= now]
    met = sum(1 for r in in_window if r.review_due_at is not None and r.first_reviewed_at <= r.review_due_at)
    fast = sum(
        1
        for r in in_window
        if r.queued_at is not None and r.first_reviewed_at - r.queued_at <= PLATFORM_PROMISE
    )
    overdue = sum(
        1
        for c in waiting
        if not c.first_reviewed and c.review_due_at is not None and start <= c.review_due_at < now
    )
    return Compliance(
        window_start=start,
        reviewed=len(in_window),
        within_sla=met,
        share_within_sla=_share(met, len(in_window)),
        overdue_unreviewed=overdue,
        share_counting_overdue=_share(met, len(in_window) + overdue),
        within_24h=fast,
        share_within_24h=_share(fast, len(in_window)),
    )


def predict_breaches(
    waiting: Sequence[WaitingCase],
    *,
    now: datetime,
    claims_per_hour: float,
    horizon: timedelta = DEFAULT_HORIZON,
) -> BreachForecast:
    """Which waiting cases will probably be reviewed after their ``review_due_at``.

    Throughput predictor (when the organization claimed cases recently): the dermatologists keep
    claiming at the recent rate ``claims_per_hour``, in queue order, so the case at position k
    (0 = top) is expected to be taken at ``now + (k + 1) / claims_per_hour``. A case is predicted
    to breach when that is after its due time (an overdue case always is).

    Fallback (no claim in the lookback period, e.g. a new organization): a case is predicted to
    breach when it is overdue or due within ``horizon`` (default one hour).

    Simplifications, stated: every dermatologist is treated as able to take every case (licences
    are ignored), new arrivals that would jump ahead are not foreseen, and the rate is an average
    over the lookback period (it does not know about working hours).
    """
    ordered = in_queue_order(waiting)
    if claims_per_hour > 0:
        breaches = []
        for position, case in enumerate(ordered):
            expected = now + timedelta(hours=(position + 1) / claims_per_hour)
            if case.review_due_at is not None and expected > case.review_due_at:
                breaches.append(Breach(case.id, case.tier, case.review_due_at, expected))
        return BreachForecast(
            method="throughput", claims_per_hour=claims_per_hour, horizon_s=None, cases=breaches
        )
    limit = now + horizon
    breaches = [
        Breach(c.id, c.tier, c.review_due_at, None)
        for c in ordered
        if c.review_due_at is not None and c.review_due_at <= limit
    ]
    return BreachForecast(
        method="due_soon", claims_per_hour=0.0, horizon_s=int(horizon.total_seconds()), cases=breaches
    )

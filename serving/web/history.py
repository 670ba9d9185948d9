"""The dashboard's history, as pure functions of what the database holds.

Queue depth over time is rebuilt backwards from now: the cases queued now, and every move into or
out of ``queued`` since the start (from the audit log's ``case.create`` and ``case.transition``
rows). Undoing the moves newest first gives the queued set at any earlier time exactly; each case is
counted under its current tier (a re-triage that changed a case's tier is not replayed).

Compliance per day uses ``serving.queue.sla.compliance`` on the cases first reviewed that day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from serving.cases.status import CaseStatus
from serving.queue import sla


@dataclass(frozen=True)
class QueueMove:
    at: datetime
    case_id: str
    entered: bool  # True: the case entered the queue at ``at``; False: it left it


@dataclass(frozen=True)
class DepthPoint:
    at: datetime
    depth: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.depth.values())


@dataclass(frozen=True)
class DayShare:
    day: datetime
    reviewed: int
    within_sla: int
    share: float | None


def moves_from_audit(rows: Iterable[tuple[datetime, str, str, Mapping[str, Any] | None]]) -> list[QueueMove]:
    """(at, case_id, action, detail) audit rows -> moves into and out of ``queued``."""
    queued = CaseStatus.queued
    moves = []
    for at, case_id, action, detail in rows:
        detail = detail or {}
        if action == "case.create" and detail.get("status") == queued:
            moves.append(QueueMove(at, case_id, True))
        elif action == "case.transition":
            if detail.get("to") == queued and detail.get("from") != queued:
                moves.append(QueueMove(at, case_id, True))
            elif detail.get("from") == queued and detail.get("to") != queued:
                moves.append(QueueMove(at, case_id, False))
    return moves


def sample_times(now: datetime, *, span: timedelta, step: timedelta) -> list[datetime]:
    """From ``now - span`` to ``now``, every ``step`` (oldest first; the last one is ``now``)."""
    count = int(span / step)
    return [now - step * i for i in range(count, -1, -1)]


def depth_over_time(
    queued_now: Iterable[str],
    moves: Sequence[QueueMove],
    tier_of: Mapping[str, str],
    times: Sequence[datetime],
    tiers: Sequence[str],
) -> list[DepthPoint]:
    """Queue depth per tier at each of ``times`` (ascending), ending with the queue as it is now."""
    queued = set(queued_now)
    pending = sorted(moves, key=lambda m: m.at, reverse=True)
    index = 0
    points = []
    for t in sorted(times, reverse=True):
        while index < len(pending) and pending[index].at > t:
            move = pending[index]
            if move.entered:
                queued.discard(move.case_id)
            else:
                queued.add(move.case_id)
            index += 1
        depth = {tier: 0 for tier in tiers}
        for case_id in queued:
            tier = tier_of.get(case_id)
            if tier in depth:
                depth[tier] += 1
        points.append(DepthPoint(t, depth))
    return points[::-1]


def daily_compliance(reviewed: Sequence[sla.ReviewedCase], *, now: datetime, days: int) -> list[DayShare]:
    """For each of the last ``days`` calendar days (UTC, today included): cases first reviewed that day
    and the share reviewed by their due time."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    out = []
    for back in range(days - 1, -1, -1):
        start = today - timedelta(days=back)
        end = min(start + timedelta(days=1) - timedelta(microseconds=1), now)
        day = [r for r in reviewed if start <= r.first_reviewed_at <= end]
        c = sla.compliance(day, [], now=end, window=end - start)
        out.append(DayShare(start, c.reviewed, c.within_sla, c.share_within_sla))
    return out

"""The dashboard's history and chart geometry: pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from serving.queue.sla import ReviewedCase
from serving.web import charts, history
from serving.web.history import QueueMove

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
TIERS = ["ROUTINE", "PRIORITY", "URGENT"]


def test_moves_come_from_creations_and_transitions():
    rows = [
        (NOW, "a", "case.create", {"status": "queued"}),
        (NOW, "b", "case.create", {"status": "awaiting_retake"}),
        (NOW, "b", "case.transition", {"from": "awaiting_retake", "to": "queued"}),
        (NOW, "a", "case.transition", {"from": "queued", "to": "in_review"}),
        (NOW, "a", "case.transition", {"from": "in_review", "to": "diagnosed"}),
        (NOW, "c", "case.read", None),
    ]
    assert history.moves_from_audit(rows) == [
        QueueMove(NOW, "a", True),
        QueueMove(NOW, "b", True),
        QueueMove(NOW, "a", False),
    ]


def test_depth_is_rebuilt_backwards_from_now():
    h = timedelta(hours=1)
    moves = [
        QueueMove(NOW - 5 * h, "a", True),  # a: queued 5 h ago, claimed 2 h ago
        QueueMove(NOW - 2 * h, "a", False),
        QueueMove(NOW - 3 * h, "b", True),  # b: queued 3 h ago, still waiting
        QueueMove(NOW - 90 * timedelta(minutes=1), "c", False),  # c: waiting since before the window
    ]
    tier_of = {"a": "URGENT", "b": "ROUTINE", "c": "ROUTINE", "d": "PRIORITY"}
    times = history.sample_times(NOW, span=6 * h, step=h)
    points = history.depth_over_time(["b", "d"], moves, tier_of, times, TIERS)
    assert [p.at for p in points] == times and times[-1] == NOW
    totals = [p.total for p in points]
    # 6 h ago: c, d; 5 h: +a; 3 h: +b; 2 h: a claimed at that instant (gone); 1 h: c left at -1.5 h
    assert totals == [2, 3, 3, 4, 3, 2, 2]
    assert points[1].depth == {"ROUTINE": 1, "PRIORITY": 1, "URGENT": 1}
    assert points[-1].depth == {"ROUTINE": 1, "PRIORITY": 1, "URGENT": 0}


def test_daily_compliance_uses_the_sla_rule():
    day = timedelta(days=1)
    reviewed = [
        ReviewedCase(NOW - day, NOW - day + timedelta(hours=4), NOW - day + timedelta(hours=1)),  # met
        ReviewedCase(NOW - day, NOW - day + timedelta(hours=1), NOW - day + timedelta(hours=2)),  # late
        ReviewedCase(NOW, NOW + timedelta(hours=4), NOW - timedelta(minutes=5)),  # today, met
    ]
    days = history.daily_compliance(reviewed, now=NOW, days=3)
    assert [(d.day.day, d.reviewed, d.within_sla, d.share) for d in days] == [
        (26, 0, 0, None),
        (27, 2, 1, 0.5),
        (28, 1, 1, 1.0),
    ]


def test_chart_geometry():
    assert [charts.nice_max(v) for v in (0, 1, 3, 7, 12, 51, 180)] == [1, 1, 5, 10, 20, 100, 200]
    points = [
        history.DepthPoint(NOW - timedelta(hours=2), {"ROUTINE": 1, "PRIORITY": 0, "URGENT": 0}),
        history.DepthPoint(NOW - timedelta(hours=1), {"ROUTINE": 2, "PRIORITY": 1, "URGENT": 1}),
        history.DepthPoint(NOW, {"ROUTINE": 0, "PRIORITY": 0, "URGENT": 0}),
    ]
    areas, y_ticks, _ = charts.stacked_areas(points, TIERS)
    assert [a.tier for a in areas] == TIERS and [a.latest for a in areas] == [0, 0, 0]
    assert [t.label for t in y_ticks] == ["0", "1", "2", "3", "4", "5"]
    bottom = charts.HEIGHT - charts.BOTTOM
    routine = [tuple(map(float, xy.split(","))) for xy in areas[0].points.split()]
    assert routine[0][1] < bottom and routine[-1][1] == bottom  # a band above the axis
    bars, _, target = charts.share_bars(
        [history.DayShare(NOW, 0, 0, None), history.DayShare(NOW, 4, 3, 0.75)], target=0.9
    )
    assert bars[0].empty and bars[0].label == "—" and not bars[1].empty and bars[1].label == "75%"
    assert charts.TOP < target < bars[1].y  # the 90% line above a 75% bar


def test_day_ticks_fall_on_each_new_day():
    times = history.sample_times(NOW, span=timedelta(days=3), step=timedelta(hours=1))
    assert [t.label for t in charts.day_ticks(times)] == ["26 Nov", "27 Nov", "28 Nov"]

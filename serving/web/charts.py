"""Chart geometry for server-rendered inline SVG (no chart library, no script): pure functions
from the dashboard's numbers to coordinates the templates draw."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from serving.web.history import DayShare, DepthPoint

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 36


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True)
class Area:
    tier: str
    points: str  # an SVG polygon's points
    latest: int


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    title: str
    empty: bool
    day: str


def nice_max(value: float) -> float:
    """The axis top: 1, 2 or 5 times a power of ten, at least ``value`` (and at least 1)."""
    if value <= 1:
        return 1
    scale = 10 ** (len(str(int(value))) - 1)
    for m in (1, 2, 5, 10):
        if m * scale >= value:
            return m * scale
    return 10 * scale


def _x(i: int, n: int) -> float:
    span = WIDTH - LEFT - RIGHT
    return LEFT + (span * i / (n - 1) if n > 1 else span / 2)


def _y(v: float, top: float) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - v / top)


def y_ticks(top: float, count: int = 4, fmt=lambda v: f"{v:g}") -> list[Tick]:
    return [Tick(_y(top * i / count, top), fmt(top * i / count)) for i in range(count + 1)]


def day_ticks(times: list[datetime]) -> list[Tick]:
    """A tick at the first sample of each day (every other day when there are many)."""
    n = len(times)
    days = [(i, t) for i, t in enumerate(times) if i > 0 and t.date() != times[i - 1].date()]
    step = 2 if len(days) > 8 else 1
    return [Tick(_x(i, n), t.strftime("%d %b")) for i, t in days[::step]]


def stacked_areas(points: list[DepthPoint], tiers: list[str]) -> tuple[list[Area], list[Tick], list[Tick]]:
    """One polygon per tier (the first tier at the bottom), y ticks, x ticks."""
    n = len(points)
    top = nice_max(max((p.total for p in points), default=0))
    base = [0.0] * n
    areas = []
    for tier in tiers:
        upper = [base[i] + points[i].depth.get(tier, 0) for i in range(n)]
        outline = [f"{_x(i, n):.1f},{_y(upper[i], top):.1f}" for i in range(n)]
        back = [f"{_x(i, n):.1f},{_y(base[i], top):.1f}" for i in range(n - 1, -1, -1)]
        areas.append(Area(tier, " ".join(outline + back), points[-1].depth.get(tier, 0) if points else 0))
        base = upper
    return areas, y_ticks(top, count=int(top) if top <= 5 else 5), day_ticks([p.at for p in points])


def share_bars(days: list[DayShare], target: float = 0.9) -> tuple[list[Bar], list[Tick], float]:
    """A bar per day (its share within SLA, 0-100%), y ticks, and the target line's y."""
    n = len(days)
    span = WIDTH - LEFT - RIGHT
    slot = span / max(n, 1)
    bars = []
    for i, d in enumerate(days):
        share = d.share or 0.0
        y = _y(share, 1.0)
        label = "—" if d.share is None else f"{d.share * 100:.0f}%"
        title = (
            f"{d.day:%d %b}: no case reviewed"
            if d.share is None
            else f"{d.day:%d %b}: {d.within_sla} of {d.reviewed} reviewed within the SLA ({label})"
        )
        bars.append(
            Bar(
                LEFT + i * slot + slot * 0.15,
                y,
                slot * 0.7,
                _y(0, 1.0) - y,
                label,
                title,
                d.share is None,
                f"{d.day:%d %b}",
            )
        )
    ticks = y_ticks(1.0, fmt=lambda v: f"{v * 100:.0f}%")
    return bars, ticks, _y(target, 1.0)

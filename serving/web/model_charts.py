"""Chart geometry of the "Model performance" page, for server-rendered inline SVG (as ``charts``: no
chart library, no script): pure functions from the monitoring figures to coordinates.

Two kinds of chart: *rows* (one horizontal line per figure: a dot for the value, a bar for its Wilson
interval or a shaded box for its expected band, a tick for the reference) and the *reliability
diagram* (mean predicted probability against the observed malignant share, per bin)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from serving.monitoring.schemas import CalibrationBinOut, DriftFigureOut, OperatingPointOut, RateOut

ROW_WIDTH = 600
ROW_LEFT, ROW_RIGHT = 160, 76  # label column, value column
ROW_HEIGHT = 26
ROW_TOP, ROW_BOTTOM = 26, 10  # the axis labels sit above the rows

PLOT_SIZE = 360  # the reliability diagram's plot area is square
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 52, 16, 14, 44


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True)
class Row:
    label: str
    y: float  # the row's centre line
    x: float | None  # the value's dot (None: nothing measured)
    lo: float | None  # interval or band
    hi: float | None
    ref: float | None  # the reference's tick
    alert: bool
    text: str  # beside the row, right
    title: str  # the tooltip
    muted: bool = False


@dataclass(frozen=True)
class RowChart:
    width: int
    height: int
    left: int
    right: int
    top: int
    rows: list[Row]
    ticks: list[Tick]
    band: bool  # lo..hi is an expected band (else a confidence interval)


def nice_top(value: float) -> float:
    """An axis top of 1, 2, 2.5 or 5 times a power of ten, at least ``value`` (at least 1)."""
    if value <= 1:
        return 1.0
    scale = 10 ** math.floor(math.log10(value))
    for m in (1, 2, 2.5, 5, 10):
        if m * scale >= value:
            return m * scale
    return 10 * scale


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def rate_text(rate: RateOut) -> str:
    if rate.value is None:
        return "no case"
    return f"{pct(rate.value)} ({pct(rate.low)}–{pct(rate.high)}), {rate.k}/{rate.n}"


def _scale(top: float):
    span = ROW_WIDTH - ROW_LEFT - ROW_RIGHT
    return lambda v: None if v is None else round(ROW_LEFT + span * min(max(v, 0.0), top) / top, 1)


def _row_chart(rows: list[Row], ticks: list[Tick], *, band: bool) -> RowChart:
    height = ROW_TOP + ROW_HEIGHT * len(rows) + ROW_BOTTOM
    return RowChart(ROW_WIDTH, height, ROW_LEFT, ROW_RIGHT, ROW_TOP, rows, ticks, band)


def _share_ticks(top: float = 1.0) -> list[Tick]:
    x = _scale(top)
    return [Tick(x(top * i / 4), f"{top * i / 4 * 100:.0f}%") for i in range(5)]


def _y(i: int) -> float:
    return ROW_TOP + ROW_HEIGHT * i + ROW_HEIGHT / 2


def operating_rows(points: Sequence[OperatingPointOut]) -> RowChart:
    """Sensitivity and specificity at each operating point, with their Wilson intervals."""
    x = _scale(1.0)
    rows = []
    for point in points:
        for name, rate in (("Sensitivity", point.sensitivity), ("Specificity", point.specificity)):
            label = f"{name}, ≥ {point.at_least.lower()}"
            rows.append(
                Row(
                    label=label,
                    y=_y(len(rows)),
                    x=x(rate.value),
                    lo=x(rate.low),
                    hi=x(rate.high),
                    ref=None,
                    alert=False,
                    text=f"{pct(rate.value)} ({rate.k}/{rate.n})" if rate.n else "no case",
                    title=f"{label}: {rate_text(rate)}; Wilson 95% interval",
                )
            )
    return _row_chart(rows, _share_ticks(), band=False)


def _drift_row(i: int, f: DriftFigureOut, x, fmt) -> Row:
    measured = "nothing measured" if f.value is None else fmt(f.value)
    text = "—" if f.value is None else fmt(f.value) + (" ▲" if f.alert else "")
    expected = "no band" if f.low is None else f"expected {fmt(f.low)}–{fmt(f.high)}"
    reference = "" if f.reference is None else f", training {fmt(f.reference)}"
    title = f"{f.label}: {measured} of {f.n}{reference}; {expected}"
    if f.alert:
        title += " — outside the expected band"
    if f.note:
        title += f" ({f.note})"
    return Row(
        label=f.label,
        y=_y(i),
        x=x(f.value),
        lo=x(f.low),
        hi=x(f.high),
        ref=x(f.reference),
        alert=f.alert,
        text=text,
        title=title,
        muted=f.low is None,
    )


def drift_rows(figures: Sequence[DriftFigureOut]) -> RowChart:
    """Shares (answer rates, Fitzpatrick mix, modality mix, retakes) on one 0-100 % scale."""
    x = _scale(1.0)
    rows = [_drift_row(i, f, x, pct) for i, f in enumerate(figures)]
    return _row_chart(rows, _share_ticks(), band=True)


def size_rows(figures: Sequence[DriftFigureOut]) -> RowChart:
    """Photo sizes (pixels) on a scale from 0 to a round number above every value and band."""
    values = [v for f in figures for v in (f.value, f.high, f.reference) if v is not None]
    top = nice_top(max(values, default=1.0))
    x = _scale(top)
    rows = [
        _drift_row(i, f, x, lambda v: "—" if v is None else f"{v:,.0f} px") for i, f in enumerate(figures)
    ]
    ticks = [Tick(x(top * i / 4), f"{top * i / 4:,.0f}") for i in range(5)]
    return _row_chart(rows, ticks, band=True)


# --- the reliability diagram ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    r: float
    lo: float | None  # the observed share's Wilson interval, as y
    hi: float | None
    title: str


@dataclass(frozen=True)
class Reliability:
    width: int
    height: int
    left: int
    top: int
    size: int
    axis_top: float
    points: list[Point]
    ticks: list[Tick]  # the same on both axes (a calibrated model lies on the diagonal)


def reliability(bins: Sequence[CalibrationBinOut]) -> Reliability:
    highest = max((v for b in bins for v in (b.mean_predicted, b.observed.high or 0.0)), default=0.0)
    axis_top = min(1.0, next((t for t in (0.1, 0.2, 0.25, 0.5) if highest <= t), 1.0))
    most = max((b.count for b in bins), default=1)

    def x(v: float) -> float:
        return round(PLOT_LEFT + PLOT_SIZE * min(v, axis_top) / axis_top, 1)

    def y(v: float) -> float:
        return round(PLOT_TOP + PLOT_SIZE * (1 - min(v, axis_top) / axis_top), 1)

    points = [
        Point(
            x=x(b.mean_predicted),
            y=y(b.observed.value or 0.0),
            r=round(4 + 6 * math.sqrt(b.count / most), 1),
            lo=None if b.observed.low is None else y(b.observed.low),
            hi=None if b.observed.high is None else y(b.observed.high),
            title=(
                f"probabilities {b.low:.3f}–{b.high:.3f}: mean {b.mean_predicted:.3f}, "
                f"{b.observed.k} of {b.count} malignant ({pct(b.observed.value)}, "
                f"95% {pct(b.observed.low)}–{pct(b.observed.high)})"
            ),
        )
        for b in bins
    ]
    ticks = [Tick(i / 4, f"{axis_top * i / 4 * 100:g}%") for i in range(5)]
    return Reliability(
        width=PLOT_LEFT + PLOT_SIZE + PLOT_RIGHT,
        height=PLOT_TOP + PLOT_SIZE + PLOT_BOTTOM,
        left=PLOT_LEFT,
        top=PLOT_TOP,
        size=PLOT_SIZE,
        axis_top=axis_top,
        points=points,
        ticks=ticks,
    )

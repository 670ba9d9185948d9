"""Templates, their filters, and the headers every page carries."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from markupsafe import Markup

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
STATIC_DIR = HERE / "static"

#: pages hold patient data: never cached, never framed, scripts and styles from this origin only
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

TIER_CLASS = {"EMERGENCY": "tier-emergency", "URGENT": "tier-urgent", "PRIORITY": "tier-priority"}


def duration(seconds: float | int | None) -> str:
    """``3725`` -> ``1 h 02 min``; ``93784`` -> ``1 d 2 h``; negative values as their magnitude."""
    if seconds is None:
        return "—"
    s = int(abs(seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def countdown_text(due: datetime | None, now: datetime) -> str:
    """What the live countdown shows before its script runs (the script keeps the same format)."""
    if due is None:
        return "no due time"
    left = (due - now).total_seconds()
    return f"overdue by {clock(-left)}" if left < 0 else f"{clock(left)} left"


def clock(seconds: float) -> str:
    """``93784`` -> ``1 d 02:03:04``; ``3725`` -> ``01:02:05``."""
    s = int(abs(seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days} d {text}" if days else text


def iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else ""


def zone_of(user) -> ZoneInfo | None:
    """The signed-in user's time zone (``users.time_zone``), None for UTC (no user, none set, or a
    name this machine's zone database does not know)."""
    name = getattr(getattr(user, "user", None), "time_zone", None)
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local(value: datetime, zone: ZoneInfo | None) -> datetime:
    return value.astimezone(zone or UTC)


def utc_text(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%d %b %Y, %H:%M UTC") if value else "—"


def zoned_text(value: datetime | None, zone: ZoneInfo | None) -> str:
    """'05 Jan 2026, 01:30 PST' in ``zone`` ('... UTC' without one)."""
    if value is None:
        return "—"
    if zone is None:
        return utc_text(value)
    return local(value, zone).strftime("%d %b %Y, %H:%M %Z")


@pass_context
def when(context, value: datetime | None) -> str:
    """A time as text, in the signed-in user's zone (UTC without one); for attributes and captions."""
    return zoned_text(value, zone_of(context.get("user")))


@pass_context
def at(context, value: datetime | None) -> Markup:
    """A time shown on a page: ``<time>`` in the user's zone, with the UTC time on hover (title)."""
    if value is None:
        return Markup("—")
    zone = zone_of(context.get("user"))
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        iso(value), utc_text(value), zoned_text(value, zone)
    )


@pass_context
def day(context, value: datetime | None) -> str:
    return local(value, zone_of(context.get("user"))).strftime("%d %b %Y") if value else "—"


def tier_class(tier: str | None) -> str:
    return TIER_CLASS.get(tier or "", "tier-routine")


def humanize(name: str) -> str:
    return (name or "").replace("_", " ")


def percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.0f}%"


TEMPLATES.env.filters.update(
    {f.__name__: f for f in (duration, clock, iso, when, at, day, tier_class, humanize, percent)}
)
TEMPLATES.env.globals.update(countdown_text=countdown_text)


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    user=None,
) -> HTMLResponse:
    ctx = {"user": user, "csrf_token": user.csrf_token if user else "", **(context or {})}
    response = TEMPLATES.TemplateResponse(request, name, ctx, status_code=status_code)
    response.headers.update(PAGE_HEADERS)
    return response

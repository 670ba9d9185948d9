"""The SLA dashboard: today's figures from ``serving.queue.metrics.sla_report`` (audited as the API's
``metrics.sla.read``), queue depth by tier over the last 14 days, the share reviewed within the SLA
per day, and the cases waiting longest."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from model.triage.tiers import Tier
from serving.audit import AuditEvent
from serving.cases.models import Case
from serving.cases.status import CaseStatus
from serving.cases.visibility import may_see
from serving.db import transaction, utcnow
from serving.queue.metrics import reviewed_cases, sla_report
from serving.web import charts, history
from serving.web.auth_web import CurrentUser
from serving.web.rendering import render

router = APIRouter(include_in_schema=False)

DAYS = 14
STEP = timedelta(hours=1)
OLDEST_LISTED = 8
#: bottom of the stack first: the most severe tier sits on top, where the eye lands
STACK = [t.value for t in reversed(Tier.by_severity()) if t is not Tier.EMERGENCY]


def _depth_history(session: Session, org_id: str, now) -> list[history.DepthPoint]:
    start = now - timedelta(days=DAYS)
    rows = session.execute(
        select(AuditEvent.at, AuditEvent.resource_id, AuditEvent.action, AuditEvent.detail).where(
            AuditEvent.organization_id == org_id,
            AuditEvent.action.in_(("case.create", "case.transition")),
            AuditEvent.at >= start,
        )
    )
    moves = history.moves_from_audit(rows)
    cases = session.execute(
        select(Case.id, Case.tier, Case.status).where(
            Case.organization_id == org_id, or_(Case.status == CaseStatus.queued, Case.updated_at >= start)
        )
    ).all()
    tier_of = {c.id: c.tier for c in cases}
    queued_now = [c.id for c in cases if c.status is CaseStatus.queued]
    times = history.sample_times(now, span=timedelta(days=DAYS), step=STEP)
    return history.depth_over_time(queued_now, moves, tier_of, times, STACK)


def _daily(session: Session, org_id: str, now) -> list[history.DayShare]:
    since = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=DAYS - 1)
    reviewed = reviewed_cases(session, organization_id=org_id, since=since)
    return history.daily_compliance(reviewed, now=now, days=DAYS)


def _oldest(session: Session, org_id: str, now, client) -> list[dict]:
    since = func.coalesce(Case.last_queued_at, Case.queued_at, Case.created_at)
    waiting = session.scalars(
        select(Case)
        .where(Case.organization_id == org_id, Case.status == CaseStatus.queued)
        .order_by(since, Case.id)
        .limit(OLDEST_LISTED)
    ).all()
    return [
        {
            "case": c,
            "waited_s": int((now - (c.last_queued_at or c.queued_at or c.created_at)).total_seconds()),
            "visible": may_see(client, c),
        }
        for c in waiting
    ]


@router.get("/dashboard")
def dashboard(request: Request, user: CurrentUser):
    now = utcnow()
    org_id = user.organization.id
    with transaction(request.app.state.sessions) as session:
        report = sla_report(session, org=user.organization, actor=user.client.actor, window_days=30, now=now)
        depth = _depth_history(session, org_id, now)
        daily = _daily(session, org_id, now)
        oldest = _oldest(session, org_id, now, user.client)
    areas, depth_y, depth_x = charts.stacked_areas(depth, STACK)
    bars, share_y, target_y = charts.share_bars(daily)
    context = {
        "report": report,
        "now": now,
        "days": DAYS,
        "chart": {
            "width": charts.WIDTH,
            "height": charts.HEIGHT,
            "left": charts.LEFT,
            "right": charts.RIGHT,
            "top": charts.TOP,
            "bottom": charts.BOTTOM,
        },
        "areas": areas,
        "depth_y": depth_y,
        "depth_x": depth_x,
        "depth_peak": max((p.total for p in depth), default=0),
        "bars": bars,
        "share_y": share_y,
        "target_y": target_y,
        "daily": daily,
        "oldest": oldest,
    }
    return render(request, "dashboard.html", context, user=user)

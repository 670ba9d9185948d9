"""``GET /v1/metrics/sla``: read what the SLA figures need, compute them with ``serving.queue.sla``
(``waiting_cases`` also feeds the queue gauges of ``/metrics``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from serving.audit import Actor, AuditEvent, record
from serving.cases.models import Case
from serving.cases.status import CaseStatus
from serving.db import utcnow
from serving.orgs.models import Organization
from serving.orgs.service import sla_policy
from serving.queue import sla

#: the recent throughput the breach predictor extrapolates
THROUGHPUT_LOOKBACK = timedelta(hours=24)
CLAIM_ACTIONS = ("case.claim", "case.assign")
LISTED_BREACHES = 100


class OldestOut(BaseModel):
    case_id: str
    tier: str
    waited_s: int


class ComplianceOut(BaseModel):
    window_days: int
    window_start: datetime
    reviewed: int = Field(description="Cases first reviewed in the window.")
    within_sla: int = Field(
        description="... of which by the due time of their first review (a case that returns to the "
        "queue later gets a new review_due_at, never a new first-review due time)."
    )
    share_within_sla: float | None
    overdue_unreviewed: int = Field(
        description="Never reviewed, still waiting, due in the window and already past it."
    )
    share_counting_overdue: float | None = Field(description="within_sla / (reviewed + overdue_unreviewed).")
    within_24h: int = Field(description="Reviewed within 24 hours of entering the queue.")
    share_within_24h: float | None


class BreachOut(BaseModel):
    case_id: str
    tier: str
    review_due_at: datetime | None
    expected_review_at: datetime | None


class ForecastOut(BaseModel):
    method: str = Field(description="'throughput' (recent claim rate) or 'due_soon' (no recent claims).")
    claims_per_hour: float
    lookback_hours: float
    horizon_s: int | None
    count: int
    cases: list[BreachOut] = Field(description=f"The first {LISTED_BREACHES}, in queue order.")


class SlaOut(BaseModel):
    as_of: datetime
    sla_hours: dict[str, float]
    queue_depth: dict[str, int] = Field(description="Queued cases per tier.")
    queued: int
    overdue: int = Field(description="Queued cases past their review_due_at.")
    emergency_open: int = Field(description="Cases flagged EMERGENCY awaiting immediate action.")
    in_review: int
    oldest_waiting: OldestOut | None
    compliance: ComplianceOut
    predicted_breaches: ForecastOut


def waiting_cases(
    session: Session, *, organization_id: str | None = None
) -> dict[str, list[sla.WaitingCase]]:
    """The queued cases, by organization id (one organization's, or every organization's)."""
    query = select(
        Case.organization_id,
        Case.id,
        Case.tier,
        Case.urgency_score,
        Case.review_due_at,
        Case.created_at,
        Case.last_queued_at,
        Case.queued_at,
        Case.first_reviewed_at,
    ).where(Case.status == CaseStatus.queued)
    if organization_id is not None:
        query = query.where(Case.organization_id == organization_id)
    waiting: dict[str, list[sla.WaitingCase]] = {}
    for r in session.execute(query):
        waiting.setdefault(r.organization_id, []).append(
            sla.WaitingCase(
                id=r.id,
                tier=r.tier,
                urgency_score=r.urgency_score,
                review_due_at=r.review_due_at,
                created_at=r.created_at,
                waiting_since=r.last_queued_at or r.queued_at or r.created_at,
                first_reviewed=r.first_reviewed_at is not None,
            )
        )
    return waiting


def reviewed_cases(session: Session, *, organization_id: str, since: datetime) -> list[sla.ReviewedCase]:
    """The organization's cases first reviewed since ``since``, each with its first review's due time
    (``first_review_due_at``, not the ``review_due_at`` a later return to the queue gave it)."""
    return [
        sla.ReviewedCase(
            queued_at=r.queued_at, review_due_at=r.first_review_due_at, first_reviewed_at=r.first_reviewed_at
        )
        for r in session.execute(
            select(Case.queued_at, Case.first_review_due_at, Case.first_reviewed_at).where(
                Case.organization_id == organization_id, Case.first_reviewed_at >= since
            )
        )
    ]


def sla_report(
    session: Session, *, org: Organization, actor: Actor, window_days: int = 30, now: datetime | None = None
) -> SlaOut:
    now = now or utcnow()
    window = timedelta(days=window_days)
    waiting = waiting_cases(session, organization_id=org.id).get(org.id, [])
    reviewed = reviewed_cases(session, organization_id=org.id, since=now - window)
    status_counts = dict(
        session.execute(
            select(Case.status, func.count())
            .where(
                Case.organization_id == org.id, Case.status.in_((CaseStatus.emergency, CaseStatus.in_review))
            )
            .group_by(Case.status)
        ).all()
    )
    claims = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.organization_id == org.id,
            AuditEvent.action.in_(CLAIM_ACTIONS),
            AuditEvent.at >= now - THROUGHPUT_LOOKBACK,
        )
    )
    rate = claims / (THROUGHPUT_LOOKBACK.total_seconds() / 3600)
    oldest = sla.oldest_waiting(waiting, now)
    comp = sla.compliance(reviewed, waiting, now=now, window=window)
    forecast = sla.predict_breaches(waiting, now=now, claims_per_hour=rate)
    record(
        session,
        actor=actor,
        action="metrics.sla.read",
        resource_type="metrics",
        resource_id=None,
        detail={"window_days": window_days, "oldest": oldest.case_id if oldest else None},
    )
    return SlaOut(
        as_of=now,
        sla_hours=sla_policy(org).to_dict(),
        queue_depth=sla.depth_per_tier(waiting),
        queued=len(waiting),
        overdue=sla.overdue_count(waiting, now),
        emergency_open=status_counts.get(CaseStatus.emergency, 0),
        in_review=status_counts.get(CaseStatus.in_review, 0),
        oldest_waiting=OldestOut(**vars(oldest)) if oldest else None,
        compliance=ComplianceOut(window_days=window_days, **vars(comp)),
        predicted_breaches=ForecastOut(
            method=forecast.method,
            claims_per_hour=round(forecast.claims_per_hour, 3),
            lookback_hours=THROUGHPUT_LOOKBACK.total_seconds() / 3600,
            horizon_s=forecast.horizon_s,
            count=len(forecast.cases),
            cases=[BreachOut(**vars(b)) for b in forecast.cases[:LISTED_BREACHES]],
        ),
    )

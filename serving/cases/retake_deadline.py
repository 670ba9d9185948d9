"""The retake deadline: a case whose photos are all unusable waits for a retake (``awaiting_retake``),
but not forever. Once the organization's deadline (``retake_deadline_hours``, 48 h by default) has
passed without a usable photo, the case enters the queue anyway, with the photos it has: a
dermatologist reviews what there is, and may still ask for new photos.

``queue_overdue_retakes()`` does it for every organization; the delivery worker runs it on every pass
(``serving.worker.deliver_due``) and ``dermatriage retakes queue-overdue`` by hand or from cron. Each
case moves through ``transition()`` as the system (audited), gets its review due time from the
organization's SLA as if it had just been queued, an audit row ``case.retake_deadline_passed`` and the
event of the same name for the intake system, all in the caller's transaction. Safe to run from any
number of workers at once: on PostgreSQL the due cases are locked ``FOR UPDATE SKIP LOCKED`` (a case
another worker, or a retake being added, holds is skipped); SQLite serializes writers.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from model.messages import message
from serving.audit import Actor, record_case
from serving.cases.models import Case
from serving.cases.states import return_for_review, set_review_due
from serving.cases.status import CaseStatus
from serving.events.outbox import emit
from serving.events.types import CASE_RETAKE_DEADLINE_PASSED
from serving.orgs.models import Organization
from serving.orgs.service import DEFAULT_RETAKE_DEADLINE_HOURS, sla_policy

S = CaseStatus
AUDIT_ACTION = "case.retake_deadline_passed"
#: what the patient app tells the patient when the case enters the queue without a usable photo
#: (``model.messages``, in the patient's language)
PATIENT_ADVICE = "advice.retake_deadline_passed"


def awaiting_retake_since(case: Case) -> datetime:
    """When the case began to wait for a retake: its creation. ``awaiting_retake`` is only a starting
    status (no move of ``serving.cases.states.ALLOWED_MOVES`` leads into it), and more unusable photos
    do not restart the wait. If a move into it is ever added, this must read when it last entered."""
    return case.created_at


def queue_overdue_retakes(
    session: Session, now: datetime, *, organization_id: str | None = None, limit: int = 500
) -> int:
    """Move every case that has waited for a retake past its organization's deadline to the queue
    (at most ``limit`` in one call; of one organization if given). Returns how many were queued."""
    deadlines = select(Organization.retake_deadline_hours).distinct()
    if organization_id is not None:
        deadlines = deadlines.where(Organization.id == organization_id)
    queued = 0
    # one query per distinct deadline setting (few), not one per organization
    for setting in session.scalars(deadlines).all():
        if queued >= limit:
            break
        orgs = select(Organization.id).where(
            Organization.retake_deadline_hours.is_(None)
            if setting is None
            else Organization.retake_deadline_hours == setting
        )
        if organization_id is not None:
            orgs = orgs.where(Organization.id == organization_id)
        hours = DEFAULT_RETAKE_DEADLINE_HOURS if setting is None else float(setting)
        due = (
            select(Case)
            .where(
                Case.status == S.awaiting_retake,
                Case.organization_id.in_(orgs),
                Case.created_at <= now - timedelta(hours=hours),
            )
            .order_by(Case.created_at, Case.id)
            .limit(limit - queued)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        for case in session.scalars(due).all():
            if case.status is not S.awaiting_retake:  # moved on since (never queued twice)
                continue
            _queue(session, case, hours=hours, now=now)
            queued += 1
    return queued


def _queue(session: Session, case: Case, *, hours: float, now: datetime) -> None:
    org = session.get(Organization, case.organization_id)
    system = Actor(organization_id=case.organization_id, key_id=None, role="system")
    since = awaiting_retake_since(case)
    deadline_at = since + timedelta(hours=hours)
    return_for_review(
        session, case, actor=system, reason=f"retake deadline passed: no usable photo within {hours:g} h"
    )
    # as intake does for a case entering the queue: the SLA clock starts now
    if case.queued_at is None:
        case.queued_at = now
    case.last_queued_at = now
    set_review_due(case, sla_policy(org).due_at(now, case.tier))
    case.updated_at = now
    record_case(
        session,
        system,
        AUDIT_ACTION,
        case.id,
        {
            "awaiting_retake_since": since.isoformat(),
            "deadline_hours": hours,
            "deadline_at": deadline_at.isoformat(),
            "review_due_at": case.review_due_at.isoformat(),
        },
    )
    emit(
        session,
        organization_id=case.organization_id,
        event_type=CASE_RETAKE_DEADLINE_PASSED,
        case_id=case.id,
        payload={
            "case_id": case.id,
            "status": case.status,
            "tier": case.tier,
            "awaiting_retake_since": since.isoformat(),
            "deadline_at": deadline_at.isoformat(),
            "review_due_at": case.review_due_at.isoformat(),
            "patient_advice": [message(PATIENT_ADVICE, (case.questionnaire or {}).get("language"))],
        },
    )

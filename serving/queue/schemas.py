"""Request and response shapes of the queue API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from model.triage.tiers import Tier
from serving.cases.models import Case
from serving.cases.schemas import CaseOut
from serving.cases.status import CaseStatus


class QueueItemOut(BaseModel):
    case_id: str
    case_url: str
    status: str
    tier: str
    emergency: bool = Field(
        description="Flagged for immediate action: the patient was told to seek care now."
    )
    urgency_score: float
    review_due_at: datetime | None
    seconds_left: int | None = Field(description="Until review_due_at; negative when overdue.")
    overdue: bool
    waiting_since: datetime | None
    waited_s: int = Field(description="Seconds since the case (last) entered the queue.")
    created_at: datetime
    jurisdiction: str
    body_site: str | None
    retake_required: bool
    quality_flags: list[str] = Field(description="Image checks that failed on any photo of the case.")
    better_photo_requested: bool = Field(
        False,
        description="The photos can be read but none is good as it is: a better one was asked for.",
    )
    photo_count: int
    assigned_to: str | None
    lease_expires_at: datetime | None


class LeaseOut(BaseModel):
    case_id: str
    status: str
    assigned_to: str | None
    lease_expires_at: datetime | None
    seconds_left: int | None


class ClaimOut(BaseModel):
    case: CaseOut
    lease: LeaseOut


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: str | None = Field(
        default=None, max_length=64, description="Claim this case (e.g. an emergency) instead of the top one."
    )


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500)


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, max_length=64)


def _seconds(until: datetime | None, now: datetime) -> int | None:
    return None if until is None else int((until - now).total_seconds())


def quality_flags(case: Case) -> list[str]:
    return sorted({name for photo in case.photos for name in photo.quality.failed_checks})


def queue_item(case: Case, now: datetime) -> QueueItemOut:
    since = case.last_queued_at or case.queued_at
    return QueueItemOut(
        case_id=case.id,
        case_url=f"/v1/cases/{case.id}",
        status=case.status,
        tier=case.tier,
        emergency=case.status is CaseStatus.emergency or case.tier is Tier.EMERGENCY,
        urgency_score=case.urgency_score,
        review_due_at=case.review_due_at,
        seconds_left=_seconds(case.review_due_at, now),
        overdue=case.review_due_at is not None and case.review_due_at < now,
        waiting_since=since,
        waited_s=max(0, int((now - (since or case.created_at)).total_seconds())),
        created_at=case.created_at,
        jurisdiction=case.jurisdiction,
        body_site=(case.questionnaire or {}).get("body_site"),
        retake_required=case.retake_required,
        quality_flags=quality_flags(case),
        better_photo_requested=case.better_photo_requested,
        photo_count=len(case.photos),
        assigned_to=case.assigned_to,
        lease_expires_at=case.lease_expires_at,
    )


def lease_out(case: Case, now: datetime) -> LeaseOut:
    return LeaseOut(
        case_id=case.id,
        status=case.status,
        assigned_to=case.assigned_to,
        lease_expires_at=case.lease_expires_at,
        seconds_left=_seconds(case.lease_expires_at, now),
    )

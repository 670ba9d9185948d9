"""Request and response shapes of the video visit (serving.consults.video_visits)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field

from serving.consults.models import VideoVisit
from serving.consults.schemas import Acted, CaseRef, JsonNumber, ShortText, _In
from serving.schemas import from_row


class VideoVisitIn(_In):
    proposed_times: list[AwareDatetime] = Field(
        min_length=1,
        max_length=5,
        description="1 to 5 times the dermatologist can hold the visit, each in the next 90 days and with "
        "its time zone, e.g. '2030-05-04T15:30:00+02:00'. The patient picks one.",
    )
    reason: ShortText = Field(description="Why a live visit is needed, in words for the patient.")
    duration_minutes: Annotated[int, JsonNumber] = Field(
        default=20, ge=15, le=60, description="How long the visit is planned to last (15 to 60 minutes)."
    )


class VideoVisitConfirmIn(_In):
    time: AwareDatetime = Field(description="The time the patient picked: one of the proposed times.")


class VideoVisitCompleteIn(_In):
    note: ShortText | None = Field(default=None, description="What the visit found (for the record).")


class VideoVisitCancelIn(_In):
    reason: ShortText = Field(description="Why the visit will not take place.")


class VideoVisitOut(BaseModel):
    id: str
    case_id: str
    status: str = Field(description="'proposed', 'confirmed', 'completed' or 'cancelled'.")
    proposed_times: list[datetime] = Field(description="Earliest first, in UTC.")
    confirmed_time: datetime | None = Field(description="The time the patient picked.")
    duration_minutes: int
    reason: str
    join_url: str | None = Field(
        description="Built from the organization's video URL template; null: the practice sends the link."
    )
    proposed_by_user_id: str | None
    created_at: datetime
    confirmed_at: datetime | None
    completed_at: datetime | None
    completion_note: str | None
    cancelled_at: datetime | None
    cancelled_by: str | None
    cancel_reason: str | None


class VideoVisitActed(Acted):
    video_visit: VideoVisitOut


class VideoVisitsOut(BaseModel):
    case: CaseRef
    video_visits: list[VideoVisitOut] = Field(description="Oldest first.")


def video_visit_out(v: VideoVisit) -> VideoVisitOut:
    return from_row(VideoVisitOut, v)

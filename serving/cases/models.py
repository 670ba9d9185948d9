from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from model.photo_quality import PhotoQuality
from model.quality_checks import Verdict
from model.triage.tiers import Tier
from serving.cases.status import CaseStatus
from serving.db import Base, UtcDateTime, new_id, str_enum, utcnow
from serving.patients import models as _patients  # noqa: F401 - registers patients, lesions
from serving.people import models as _people  # noqa: F401 - registers users (Case.assigned_to)


class PhotoQualityJson(TypeDecorator):
    """A photo's quality: a :class:`~model.photo_quality.PhotoQuality` in Python, JSON in the database
    (the only place it is turned into JSON and back)."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: PhotoQuality | None, dialect) -> dict[str, Any] | None:
        return None if value is None else value.to_json()

    def process_result_value(self, value: dict[str, Any] | None, dialect) -> PhotoQuality | None:
        return None if value is None else PhotoQuality.from_json(value)


def _tier_of_insert(context) -> str | None:
    """``submitted_tier``'s default: the tier the row is inserted with."""
    return context.get_current_parameters().get("tier")


def _due_of_insert(context) -> datetime | None:
    """``first_review_due_at``'s default: the review due time the row is inserted with."""
    return context.get_current_parameters().get("review_due_at")


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        # the queue's order (serving.queue.priority): claim and list read it in index order
        Index(
            "ix_cases_queue_order",
            "organization_id",
            "status",
            "review_due_at",
            text("urgency_score DESC"),
            "created_at",
            "id",
        ),
        Index("ix_cases_status_lease", "status", "lease_expires_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    status: Mapped[CaseStatus] = mapped_column(str_enum(CaseStatus, 32))
    jurisdiction: Mapped[str] = mapped_column(String(16))
    questionnaire: Mapped[dict[str, Any]] = mapped_column(JSON)
    submitted_by: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # triage, replaced whenever the case is triaged again
    tier: Mapped[Tier] = mapped_column(str_enum(Tier, 16))
    #: the tier of the first triage (intake), never replaced: what monitoring judges the triage by
    #: (a row inserted without it takes its ``tier``)
    submitted_tier: Mapped[Tier | None] = mapped_column(str_enum(Tier, 16), default=_tier_of_insert)
    urgency_score: Mapped[float] = mapped_column(Float)
    retake_required: Mapped[bool] = mapped_column(Boolean)
    reasons: Mapped[list[str]] = mapped_column(JSON)
    patient_advice: Mapped[list[str]] = mapped_column(JSON)
    model_versions: Mapped[dict[str, str]] = mapped_column(JSON)
    triaged_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: when the case first had a usable photo (the SLA clock starts then); None while awaiting a retake
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    #: when the case is due for review: its place in the queue (a returning case gets a new one)
    review_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    #: when the first review was due (the SLA figures judge the first review by it): moves with
    #: ``review_due_at`` until a dermatologist first takes the case, never after
    #: (``serving.cases.states.set_review_due``; a row inserted without it takes its ``review_due_at``)
    first_review_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=_due_of_insert)
    #: where care should happen, as triage judged it: "remote" | "in_person_likely" | "emergency"
    care_setting: Mapped[str | None] = mapped_column(String(32), default=None)
    # the queue (serving.queue): who holds the case while in review, until when
    assigned_to: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None, index=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    #: when a dermatologist first took the case into review (the SLA is met if <= review_due_at)
    first_reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    #: when the case last entered the queue (None: never re-queued since ``queued_at``)
    last_queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    #: who the case is about (``serving.patients``), when the intake system said; None: nobody known
    patient_id: Mapped[str | None] = mapped_column(ForeignKey("patients.id"), default=None, index=True)
    #: which of the patient's lesions the photos show (its timeline), named at intake or by a dermatologist
    lesion_id: Mapped[str | None] = mapped_column(ForeignKey("lesions.id"), default=None, index=True)

    photos: Mapped[list[Photo]] = relationship(
        back_populates="case", order_by="(Photo.batch, Photo.position)", lazy="selectin"
    )

    @property
    def better_photo_requested(self) -> bool:
        """The photos can be read but none is good as it is: a retake was requested, the case goes on
        with its tier (``model.triage.decision``)."""
        qualities = [p.quality for p in self.photos]
        return any(q.usable for q in qualities) and not any(q.accepted for q in qualities)


class Photo(Base):
    __tablename__ = "photos"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    #: 1 for the photos of the first submission, then one more for each later submission
    batch: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    storage_key: Mapped[str] = mapped_column(String(200), index=True)
    thumbnail_key: Mapped[str] = mapped_column(String(200), index=True)
    media_type: Mapped[str] = mapped_column(String(32))
    source_format: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    quality_verdict: Mapped[Verdict] = mapped_column(str_enum(Verdict, 16))
    quality_score: Mapped[float] = mapped_column(Float)
    quality: Mapped[PhotoQuality] = mapped_column(PhotoQualityJson)
    #: the urgency model's probabilities for a photo of skin (for re-triage and the dermatologist)
    predictions: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)

    case: Mapped[Case] = relationship(back_populates="photos")


class IdempotencyRecord(Base):
    """One row per (organization, Idempotency-Key): the request it named and the case it made.

    The primary key makes concurrent retries collide in the database, so exactly one wins.
    """

    __tablename__ = "idempotency_keys"

    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    operation: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))
    # deferred: the record is inserted before its case, so that a concurrent retry collides first
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", deferrable=True, initially="DEFERRED"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

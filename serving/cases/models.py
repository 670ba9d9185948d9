from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from serving.db import Base, UtcDateTime, new_id, utcnow


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_org_status_due", "organization_id", "status", "review_due_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    status: Mapped[str] = mapped_column(String(32))
    jurisdiction: Mapped[str] = mapped_column(String(16))
    questionnaire: Mapped[dict[str, Any]] = mapped_column(JSON)
    submitted_by: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # triage, replaced whenever the case is triaged again
    tier: Mapped[str] = mapped_column(String(16))
    urgency_score: Mapped[float] = mapped_column(Float)
    retake_required: Mapped[bool] = mapped_column(Boolean)
    reasons: Mapped[list[str]] = mapped_column(JSON)
    patient_advice: Mapped[list[str]] = mapped_column(JSON)
    model_versions: Mapped[dict[str, str]] = mapped_column(JSON)
    triaged_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: when the case first had a usable photo (the SLA clock starts then); None while awaiting a retake
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    review_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    photos: Mapped[list[Photo]] = relationship(
        back_populates="case", order_by="(Photo.batch, Photo.position)", lazy="selectin"
    )


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
    quality_verdict: Mapped[str] = mapped_column(String(16))
    quality_score: Mapped[float] = mapped_column(Float)
    quality: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: the urgency model's probabilities for a usable photo (for re-triage and the dermatologist)
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

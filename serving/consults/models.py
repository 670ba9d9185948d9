"""What a dermatologist decides on a case: diagnoses (history kept), prescriptions and their
renewal requests, follow-ups, the message thread with the patient, the case's disposition
(referral in person, closure), and the histopathology results that come back later."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from serving.db import Base, UtcDateTime, new_id, utcnow


def _case_fk() -> Mapped[str]:
    return mapped_column(ForeignKey("cases.id"), index=True)


def _org_fk() -> Mapped[str]:
    return mapped_column(ForeignKey("organizations.id"), index=True)


class _OfCase:
    """A row about one case of one organization (both indexed)."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = _org_fk()
    case_id: Mapped[str] = _case_fk()


class _Releasable:
    """A row the patient learns of: at once (``draft`` false, its event emitted when written), or held as
    a draft until a signed consult note releases it (``consult_note_id``; serving.consults.notes)."""

    draft: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: the consult note that released it (None: released when written, or still a draft)
    consult_note_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)


class Diagnosis(_OfCase, _Releasable, Base):
    """One coded diagnosis of a case. A later one (confirmed or revised at follow-up) is a new row."""

    __tablename__ = "diagnoses"

    icd10_code: Mapped[str] = mapped_column(String(16))
    icd10_title: Mapped[str] = mapped_column(String(200))
    #: "provisional" | "confirmed" | "revised"
    certainty: Mapped[str] = mapped_column(String(16))
    free_text: Mapped[str | None] = mapped_column(Text, default=None)
    assessment: Mapped[str] = mapped_column(Text)
    patient_plan: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_by_key_id: Mapped[str | None] = mapped_column(String(36), default=None)


class Prescription(_OfCase, _Releasable, Base):
    __tablename__ = "prescriptions"

    #: the case's diagnosis the medication was prescribed for (the latest one when it was written)
    diagnosis_id: Mapped[str] = mapped_column(ForeignKey("diagnoses.id"))
    rxcui: Mapped[str] = mapped_column(String(16))
    medication: Mapped[str] = mapped_column(String(200))
    strength: Mapped[str] = mapped_column(String(64))
    form: Mapped[str] = mapped_column(String(64))
    directions: Mapped[str] = mapped_column(Text)
    quantity: Mapped[float] = mapped_column(Float)
    quantity_unit: Mapped[str] = mapped_column(String(32))
    refills: Mapped[int] = mapped_column(Integer)
    pharmacy_note: Mapped[str | None] = mapped_column(Text, default=None)
    #: the prescription this one renews (approved renewal request), else None
    renews_id: Mapped[str | None] = mapped_column(ForeignKey("prescriptions.id"), default=None, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    prescribed_by_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    prescribed_by_key_id: Mapped[str | None] = mapped_column(String(36), default=None)


class RenewalRequest(Base):
    """The patient (through the intake system) asks for more of a prescription; a queue item of its own."""

    __tablename__ = "renewal_requests"
    __table_args__ = (
        UniqueConstraint("organization_id", "idempotency_key", name="uq_renewal_requests_org_key"),
        Index("ix_renewal_requests_org_status_due", "organization_id", "status", "due_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    case_id: Mapped[str] = _case_fk()
    prescription_id: Mapped[str] = mapped_column(ForeignKey("prescriptions.id"), index=True)
    #: "pending" | "approved" | "declined"
    status: Mapped[str] = mapped_column(String(16))
    patient_note: Mapped[str | None] = mapped_column(Text, default=None)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    #: the review SLA: the organization's ROUTINE hours after the request
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), default=None)
    fingerprint: Mapped[str | None] = mapped_column(String(64), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    decided_by_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    decision_reason: Mapped[str | None] = mapped_column(Text, default=None)
    new_prescription_id: Mapped[str | None] = mapped_column(ForeignKey("prescriptions.id"), default=None)


class FollowUp(_OfCase, Base):
    __tablename__ = "follow_ups"
    __table_args__ = (Index("ix_follow_ups_status_due", "status", "due_at"),)

    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    instructions: Mapped[str] = mapped_column(Text)
    #: "scheduled" | "received" (photos came) | "cancelled" (case referred or closed first)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    received_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    #: the photo batch that answered it
    received_batch: Mapped[int | None] = mapped_column(Integer, default=None)
    #: when FOLLOW_UP_DUE was emitted (once)
    due_notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class Message(_OfCase, Base):
    """One entry of the thread between dermatologist and patient (the patient writes through intake)."""

    __tablename__ = "messages"

    #: "dermatologist" | "patient" | "admin"
    sender: Mapped[str] = mapped_column(String(16))
    #: "message" | "question" | "retake_request"
    kind: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    #: retake requests: {"reasons": [...], "photo_ids": [...]}
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sender_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    sender_key_id: Mapped[str | None] = mapped_column(String(36), default=None)

    attachments: Mapped[list[MessageAttachment]] = relationship(
        order_by="MessageAttachment.position", lazy="selectin"
    )


class MessageAttachment(Base):
    """An image sent with a message: sanitized like case photos (no metadata), in the photo store."""

    __tablename__ = "message_attachments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), index=True)
    organization_id: Mapped[str] = _org_fk()
    position: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(200), index=True)
    thumbnail_key: Mapped[str] = mapped_column(String(200), index=True)
    media_type: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Disposition(_OfCase, Base):
    """How a case left the online consult: referred to be seen in person, or closed."""

    __tablename__ = "dispositions"

    #: "referral" | "closure"
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    #: referrals: "routine" | "soon" | "urgent"
    urgency: Mapped[str | None] = mapped_column(String(16), default=None)
    specialty: Mapped[str | None] = mapped_column(String(100), default=None)
    instructions: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_by_key_id: Mapped[str | None] = mapped_column(String(36), default=None)


class PathologyResult(_OfCase, Base):
    """A histopathology result of a biopsy or excision of the case's lesion (several per case: the
    latest by ``reported_on`` is the case's outcome)."""

    __tablename__ = "pathology_results"

    icd10_code: Mapped[str] = mapped_column(String(16))
    #: the catalogue's title of the code when it was recorded
    icd10_title: Mapped[str] = mapped_column(String(200))
    #: the date of the pathology report
    reported_on: Mapped[date] = mapped_column(Date)
    #: the report's free text (at most 5000 characters)
    report: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    recorded_by_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    recorded_by_key_id: Mapped[str | None] = mapped_column(String(36), default=None)


class ConsultNote(_OfCase, Base):
    """A signed consult note: what one release told the patient (the current diagnosis, its plan, the
    prescriptions drafted since the last note, the follow-up), immutable once written. A later release
    on the same case is a new note with the next ``number``."""

    __tablename__ = "consult_notes"
    __table_args__ = (UniqueConstraint("case_id", "number", name="uq_consult_notes_case_number"),)

    #: 1 for the case's first note, then 2, ...
    number: Mapped[int] = mapped_column(Integer)
    #: the note's content (serving.consults.notes.note_content), as released
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: SHA-256 of the content's canonical JSON (serving.consults.notes.content_sha256)
    content_sha256: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    signed_by_user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    signed_by_key_id: Mapped[str | None] = mapped_column(String(36), default=None)
    #: the signer's name and the licence (jurisdiction) they signed under, as they were at signing
    signed_by_name: Mapped[str] = mapped_column(String(200))
    licence_jurisdiction: Mapped[str] = mapped_column(String(16))
    attestation: Mapped[str] = mapped_column(Text)


class VideoVisit(_OfCase, Base):
    """A live video visit the dermatologist proposed for a case (serving.consults.video_visits): the
    times offered, the one the patient picked, and how it ended."""

    __tablename__ = "video_visits"

    #: the times offered, ISO 8601 in UTC, earliest first
    proposed_times: Mapped[list[str]] = mapped_column(JSON)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    #: "proposed" | "confirmed" (the patient picked a time) | "completed" | "cancelled"
    status: Mapped[str] = mapped_column(String(16))
    #: built from the organization's video URL template (None: the practice has none set)
    join_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    confirmed_time: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    completion_note: Mapped[str | None] = mapped_column(Text, default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    #: "patient" | "dermatologist" | "admin"
    cancelled_by: Mapped[str | None] = mapped_column(String(16), default=None)
    cancel_reason: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    proposed_by_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    proposed_by_key_id: Mapped[str | None] = mapped_column(String(36), default=None)

    @property
    def times(self) -> list[datetime]:
        """The times offered, as aware datetimes (UTC), earliest first."""
        return [datetime.fromisoformat(t) for t in self.proposed_times]

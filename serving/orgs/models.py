from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from serving.db import Base, UtcDateTime, new_id, utcnow


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: Review SLA in hours per tier, overriding the defaults (None = defaults).
    sla_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    #: hours a case waits for a usable photo before it enters the queue anyway (None = the default)
    retake_deadline_hours: Mapped[float | None] = mapped_column(Float, default=None)
    #: where events are POSTed (None: the events feed only), and the HMAC secret that signs them
    webhook_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    webhook_secret: Mapped[str | None] = mapped_column(String(200), default=None)
    #: the join link of a video visit: a URL with {visit_id} and {case_id} placeholders, e.g.
    #: https://meet.example.com/derm-{visit_id} (None: the practice sends links itself)
    video_url_template: Mapped[str | None] = mapped_column(String(2000), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ApiKey(Base):
    """A client's key. Only its SHA-256 is stored; the key itself is shown once, at creation."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(200), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    #: the person the key belongs to (dermatologists and admins); None for intake systems
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None, index=True)

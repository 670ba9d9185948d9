from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from serving.db import Base, UtcDateTime, new_id, utcnow


class User(Base):
    """A person of an organization: a dermatologist (licensed in some jurisdictions) or an admin.

    API keys may belong to a user (``ApiKey.user_id``); a deactivated user's keys stop working.
    """

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))  # "dermatologist" | "admin"
    #: where the user may review patients, ISO 3166 codes such as "US-CA" (exact match with the case's)
    jurisdictions: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    deactivated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    #: the IANA time zone the pages show times in (None: UTC), e.g. "America/Los_Angeles"
    time_zone: Mapped[str | None] = mapped_column(String(64), default=None)

    @property
    def active(self) -> bool:
        return self.deactivated_at is None

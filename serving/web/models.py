"""What signing in to the pages needs: a password per user, server-side sessions, sign-in attempts.

Passwords live in a table of their own (not on ``users``), so that a ``User`` loaded anywhere in the
service never carries a hash. Session tokens are stored as SHA-256 hashes only: the cookie holds the
token, the database cannot give it back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from serving.db import Base, UtcDateTime, new_id, utcnow
from serving.people import models as _people  # noqa: F401 - registers users (the foreign keys)


class UserCredential(Base):
    """A user's sign-in name (unique in the organization, case-insensitive) and argon2 password hash."""

    __tablename__ = "user_credentials"
    __table_args__ = (UniqueConstraint("organization_id", "login"),)

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    #: lower-case sign-in name
    login: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    password_set_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WebSession(Base):
    """A signed-in browser. Valid while not ended, before ``expires_at`` and used within the idle
    timeout; ``csrf_token`` is the per-session token every form (and fetch) must send back."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    client_address: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(300), default=None)


class SignInAttempt(Base):
    """One sign-in attempt, keyed by what was typed (organization and sign-in name), so that the
    lockout works the same whether or not such a user exists."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (Index("ix_sign_in_attempts_subject_at", "subject", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    #: "<organization slug>/<sign-in name>", lower-case
    subject: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    succeeded: Mapped[bool] = mapped_column(default=False)
    user_id: Mapped[str | None] = mapped_column(String(36), default=None)
    client_address: Mapped[str | None] = mapped_column(String(64), default=None)

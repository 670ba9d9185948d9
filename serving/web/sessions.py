"""Server-side sessions and the sign-in lockout, as keyword-only functions in the caller's transaction.

A session token is 32 random bytes (URL-safe base64) that only the browser's cookie holds; the table
keeps its SHA-256. A session is valid while not ended, before its absolute expiry, and used within
the idle timeout. The lockout counts failed attempts per typed organization and sign-in name (so it
behaves the same for a name that does not exist) since the last success, over a sliding window.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from serving.db import utcnow
from serving.orgs.models import Organization
from serving.people.models import User
from serving.web.models import SignInAttempt, WebSession

#: a session's last_seen_at is written at most this often (a page view is not a write each time)
TOUCH_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class SessionPolicy:
    lifetime: timedelta
    idle: timedelta
    max_failures: int
    lockout_window: timedelta

    @classmethod
    def from_settings(cls, settings) -> SessionPolicy:
        return cls(
            lifetime=timedelta(hours=settings.web_session_hours),
            idle=timedelta(minutes=settings.web_idle_minutes),
            max_failures=settings.sign_in_max_failures,
            lockout_window=timedelta(minutes=settings.sign_in_lockout_minutes),
        )


@dataclass(frozen=True)
class Signed:
    """A valid session with its user and organization (detached, safe to use after the transaction)."""

    session: WebSession
    user: User
    organization: Organization


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    session: Session,
    *,
    user: User,
    now: datetime,
    policy: SessionPolicy,
    client_address: str | None,
    user_agent: str | None,
) -> tuple[str, WebSession]:
    """A new session for ``user``; returns (the token for the cookie, the row)."""
    token = secrets.token_urlsafe(32)
    row = WebSession(
        token_hash=hash_token(token),
        csrf_token=secrets.token_urlsafe(32),
        user_id=user.id,
        organization_id=user.organization_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.lifetime,
        client_address=client_address,
        user_agent=(user_agent or "")[:300] or None,
    )
    session.add(row)
    session.flush()
    return token, row


def find_session(
    session: Session, *, token: str | None, now: datetime, policy: SessionPolicy, touch: bool = True
) -> Signed | None:
    """The valid session the token names (its idle clock restarted), or None: unknown, ended, expired,
    idle too long, or its user deactivated. A session found expired or idle is ended. ``touch=False``:
    a request the page makes on its own (the queue's live updates) is no sign of the user, so it leaves
    the idle clock alone."""
    if not token or len(token) > 200:
        return None
    found = session.execute(
        select(WebSession, User, Organization)
        .join(User, User.id == WebSession.user_id)
        .join(Organization, Organization.id == WebSession.organization_id)
        .where(WebSession.token_hash == hash_token(token), WebSession.ended_at.is_(None))
    ).first()
    if found is None:
        return None
    row, user, org = found
    if row.expires_at <= now or row.last_seen_at + policy.idle <= now or not user.active:
        row.ended_at = now
        return None
    if touch and now - row.last_seen_at >= min(TOUCH_EVERY, policy.idle / 4):
        row.last_seen_at = now
    return Signed(session=row, user=user, organization=org)


def why_ended(session: Session, *, token: str | None, policy: SessionPolicy) -> str | None:
    """Why the session the token names is no longer valid: "idle" (unused for the idle timeout),
    "expired" (its lifetime ran out), or None (unknown token, signed out, or its user deactivated)."""
    if not token or len(token) > 200:
        return None
    row = session.scalar(select(WebSession).where(WebSession.token_hash == hash_token(token)))
    if row is None or row.ended_at is None:
        return None
    if row.ended_at >= row.expires_at:
        return "expired"
    if row.ended_at >= row.last_seen_at + policy.idle:
        return "idle"
    return None


def idle_deadline(row: WebSession, policy: SessionPolicy) -> datetime:
    """When the session ends unless used again: its idle timeout or its lifetime, the sooner."""
    return min(row.last_seen_at + policy.idle, row.expires_at)


def end_session(session: Session, *, session_id: str, now: datetime) -> None:
    row = session.get(WebSession, session_id)
    if row is not None and row.ended_at is None:
        row.ended_at = now


def end_sessions_of(session: Session, *, user_id: str, now: datetime | None = None) -> int:
    """End every open session of a user (a new password, a deactivation); returns how many."""
    result = session.execute(
        update(WebSession)
        .where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
        .values(ended_at=now or utcnow())
    )
    return result.rowcount or 0


def subject(org_slug: str, login: str) -> str:
    return f"{(org_slug or '').strip().lower()}/{(login or '').strip().lower()}"[:200]


def locked_out(session: Session, *, subject: str, now: datetime, policy: SessionPolicy) -> bool:
    """``policy.max_failures`` failed attempts or more within the window since the last success."""
    since = now - policy.lockout_window
    last_success = session.scalar(
        select(func.max(SignInAttempt.at)).where(
            SignInAttempt.subject == subject, SignInAttempt.succeeded.is_(True), SignInAttempt.at >= since
        )
    )
    start = max(since, last_success) if last_success else since
    failures = session.scalar(
        select(func.count())
        .select_from(SignInAttempt)
        .where(
            SignInAttempt.subject == subject, SignInAttempt.succeeded.is_(False), SignInAttempt.at >= start
        )
    )
    return failures >= policy.max_failures


def note_attempt(
    session: Session,
    *,
    subject: str,
    now: datetime,
    succeeded: bool,
    user_id: str | None,
    client_address: str | None,
) -> None:
    session.add(
        SignInAttempt(
            subject=subject, at=now, succeeded=succeeded, user_id=user_id, client_address=client_address
        )
    )

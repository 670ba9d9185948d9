"""Passwords: argon2id hashes (argon2-cffi's RFC 9106 defaults), set by an operator or an admin.

``set_password`` gives a user a sign-in name and a password; ``check_password`` verifies a sign-in
and spends the same time whether or not the user exists (a dummy hash is verified for a miss).
"""

from __future__ import annotations

import re
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.audit import Actor, record
from serving.db import utcnow
from serving.orgs.models import Organization
from serving.people.models import User
from serving.web.models import UserCredential
from serving.web.sessions import end_sessions_of

MIN_LENGTH = 12
MAX_LENGTH = 1024
LOGIN_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,99}$")


class PasswordError(ValueError):
    """A password or sign-in name that cannot be set; ``field`` names which."""

    def __init__(self, message: str, *, field: str):
        super().__init__(message)
        self.field = field


@lru_cache(maxsize=1)
def hasher() -> PasswordHasher:
    return PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hasher().hash("not a password anyone has")


def normalize_login(login: str) -> str:
    return (login or "").strip().lower()


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"a password needs at least {MIN_LENGTH} characters", field="password")
    if len(password) > MAX_LENGTH:
        raise PasswordError(f"a password has at most {MAX_LENGTH} characters", field="password")
    if password.strip() != password or len(set(password)) < 5:
        raise PasswordError(
            "choose a password without leading or trailing spaces and with at least 5 different characters",
            field="password",
        )


def set_password(
    session: Session, *, org: Organization, user: User, password: str, login: str | None, actor: Actor
) -> UserCredential:
    """Give ``user`` a password (and a sign-in name: ``login``, else the one they have, else their id).
    Every session the user had is ended, so a changed password signs out other browsers."""
    if user.organization_id != org.id:
        raise PasswordError("no such user in this organization", field="user_id")
    if not user.active:
        raise PasswordError("the user is deactivated", field="user_id")
    check_strength(password)
    credential = session.get(UserCredential, user.id)
    wanted = normalize_login(login or (credential.login if credential else user.id))
    if not LOGIN_PATTERN.match(wanted):
        raise PasswordError(
            "a sign-in name has 1-100 letters, digits and . _ @ -, starting with a letter or digit",
            field="login",
        )
    taken = session.scalar(
        select(UserCredential.user_id).where(
            UserCredential.organization_id == org.id,
            UserCredential.login == wanted,
            UserCredential.user_id != user.id,
        )
    )
    if taken is not None:
        raise PasswordError(f"the sign-in name {wanted!r} belongs to another user", field="login")
    if credential is None:
        credential = UserCredential(user_id=user.id, organization_id=org.id)
        session.add(credential)
    credential.login = wanted
    credential.password_hash = hasher().hash(password)
    credential.password_set_at = utcnow()
    session.flush()
    ended = end_sessions_of(session, user_id=user.id)
    record(
        session,
        actor=actor,
        action="user.password.set",
        resource_type="user",
        resource_id=user.id,
        detail={"login": wanted, "sessions_ended": ended},
    )
    return credential


def find_credential(session: Session, *, org: Organization | None, login: str) -> UserCredential | None:
    if org is None:
        return None
    return session.scalar(
        select(UserCredential).where(
            UserCredential.organization_id == org.id, UserCredential.login == normalize_login(login)
        )
    )


def check_password(credential: UserCredential | None, password: str) -> bool:
    """True when ``password`` matches; a missing credential costs the same time and is False.
    A hash made with older parameters is upgraded in place (the caller's transaction saves it)."""
    try:
        if credential is None:
            hasher().verify(_dummy_hash(), password)
            return False
        hasher().verify(credential.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if hasher().check_needs_rehash(credential.password_hash):
        credential.password_hash = hasher().hash(password)
    return True

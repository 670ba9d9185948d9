"""People: create dermatologists and admins with their API keys, list, look up, deactivate.

A dermatologist must be licensed in at least one jurisdiction (ISO 3166 codes such as
``US-CA``, the same codes the questionnaire uses); a case is theirs to see only when its
jurisdiction is exactly one of them. Admins see every case of their organization.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session

from model.questionnaire import JURISDICTION_PATTERN
from serving.audit import Actor, record
from serving.errors import DomainError, NotFound
from serving.orgs.models import ApiKey, Organization
from serving.orgs.service import IssuedKey, Role, issue_key
from serving.people.models import User


class UserRole(StrEnum):
    dermatologist = "dermatologist"
    admin = "admin"


class PeopleError(DomainError):
    """A request about users that cannot be carried out; ``field`` names what to fix."""

    def __init__(self, message: str, *, field: str):
        super().__init__(422, "invalid_field", message, field=field, fix=f"Correct '{field}'.")


class UserNotFound(NotFound):
    def __init__(self, user_id: str):
        super().__init__("user", user_id, fix="Check the user id (GET /v1/users).")


@dataclass(frozen=True)
class IssuedUser:
    user: User
    key: str  # shown once


def normalize_jurisdictions(values: Iterable[str]) -> list[str]:
    """Upper-cased, de-duplicated, sorted; raises PeopleError on a code that is not ISO 3166."""
    if isinstance(values, str):
        raise PeopleError("jurisdictions must be a list of codes", field="jurisdictions")
    codes = set()
    for raw in values:
        code = str(raw).strip().upper()
        if not JURISDICTION_PATTERN.match(code):
            raise PeopleError(
                f"{raw!r} is not a jurisdiction; use ISO 3166 codes such as 'US' or 'US-CA'",
                field="jurisdictions",
            )
        codes.add(code)
    return sorted(codes)


def licences_for(role: UserRole | str, jurisdictions: Iterable[str]) -> list[str]:
    """The normalized licences of a user of ``role``: a dermatologist needs at least one."""
    codes = normalize_jurisdictions(jurisdictions)
    if role == UserRole.dermatologist and not codes:
        raise PeopleError(
            "a dermatologist must be licensed in at least one jurisdiction, e.g. US-CA",
            field="jurisdictions",
        )
    return codes


def set_licences(
    session: Session, *, org: Organization, user_id: str, jurisdictions: Iterable[str], actor: Actor
) -> User:
    """Where an active user is licensed from now on (the cases they see follow at once)."""
    user = get_user(session, org=org, user_id=user_id)
    if not user.active:
        raise PeopleError("the user is deactivated", field="user_id")
    before = list(user.jurisdictions or [])
    user.jurisdictions = licences_for(user.role, jurisdictions)
    record(
        session,
        actor=actor,
        action="user.licences.update",
        resource_type="user",
        resource_id=user.id,
        detail={"before": before, "after": user.jurisdictions},
    )
    return user


@lru_cache(maxsize=1)
def time_zones() -> frozenset[str]:
    """The IANA time zone names this machine's zone database knows."""
    return frozenset(available_timezones())


def set_time_zone(
    session: Session, *, org: Organization, user_id: str, time_zone: str | None, actor: Actor
) -> User:
    """The IANA time zone the pages show times in for this user ('Europe/Paris'); empty: UTC."""
    user = get_user(session, org=org, user_id=user_id)
    name = (time_zone or "").strip() or None
    if name is not None:
        try:
            known = name in time_zones() and ZoneInfo(name) is not None
        except (ZoneInfoNotFoundError, ValueError):
            known = False
        if not known:
            raise PeopleError(
                f"{name[:64]!r} is not a time zone; use an IANA name such as 'Europe/Paris' or "
                "'America/Los_Angeles'",
                field="time_zone",
            )
    user.time_zone = name
    record(
        session,
        actor=actor,
        action="user.time_zone.update",
        resource_type="user",
        resource_id=user.id,
        detail={"time_zone": name},
    )
    return user


def licensed_for(user: User, jurisdiction: str) -> bool:
    return jurisdiction in (user.jurisdictions or [])


def create_user(
    session: Session,
    *,
    org: Organization,
    name: str,
    role: UserRole | str,
    jurisdictions: Iterable[str] = (),
    actor: Actor | None = None,
    key_label: str = "",
) -> IssuedUser:
    """A new user and their first API key (a key of the same role, shown once)."""
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise PeopleError("a user needs a name of 1 to 200 characters", field="name")
    try:
        role = UserRole(role)
    except ValueError as exc:
        raise PeopleError(f"role must be 'dermatologist' or 'admin', not {role!r}", field="role") from exc
    codes = licences_for(role, jurisdictions)
    user = User(organization_id=org.id, name=name, role=role.value, jurisdictions=codes)
    session.add(user)
    session.flush()
    issued = issue_user_key(session, org=org, user=user, label=key_label or name)
    if actor is not None:
        record(
            session,
            actor=actor,
            action="user.create",
            resource_type="user",
            resource_id=user.id,
            detail={"role": user.role, "jurisdictions": codes, "key_prefix": issued.record.prefix},
        )
    return IssuedUser(user=user, key=issued.key)


def issue_user_key(session: Session, *, org: Organization, user: User, label: str = "") -> IssuedKey:
    if user.organization_id != org.id:
        raise UserNotFound(user.id)
    issued = issue_key(session, org=org, role=Role(user.role), label=label)
    issued.record.user_id = user.id
    session.flush()
    return issued


def list_users(session: Session, *, org: Organization, include_inactive: bool = True) -> list[User]:
    query = select(User).where(User.organization_id == org.id)
    if not include_inactive:
        query = query.where(User.deactivated_at.is_(None))
    return list(session.scalars(query.order_by(User.created_at, User.id)))


def get_user(session: Session, *, org: Organization, user_id: str) -> User:
    """A user of this organization; another organization's user does not exist for the caller."""
    user = session.scalar(select(User).where(User.id == user_id, User.organization_id == org.id))
    if user is None:
        raise UserNotFound(user_id)
    return user


def revoke_access(session: Session, *, org: Organization, user_id: str, now: datetime) -> User:
    """The user can no longer sign in or use an API key (their keys are revoked). The cases they hold
    are the queue's business: ``serving.queue.staff.deactivate_user`` does both."""
    user = get_user(session, org=org, user_id=user_id)
    if user.deactivated_at is None:
        user.deactivated_at = now
    for key in session.scalars(select(ApiKey).where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))):
        key.revoked_at = now
    return user

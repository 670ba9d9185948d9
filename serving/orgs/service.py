"""Organizations, their settings (review SLA, retake deadline) and API keys: creation, lookup, revocation.

A key looks like ``dtk_<prefix>_<secret>``: the prefix identifies it in listings and logs,
the whole key is hashed with SHA-256 (keys carry 256 bits of randomness, so a slow password
hash adds nothing) and only the hash is stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.db import utcnow
from serving.errors import DomainError
from serving.orgs.models import ApiKey, Organization
from serving.orgs.sla import SlaPolicy, positive_hours

KEY_PREFIX = "dtk"
SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
#: how long a case whose photos are all unusable waits for a retake before it enters the queue anyway
#: (``serving.cases.retake_deadline``), unless the organization sets its own
DEFAULT_RETAKE_DEADLINE_HOURS = 48.0
#: upper bound on a retake deadline, to catch unit mistakes (minutes given as hours): 30 days
MAX_RETAKE_DEADLINE_HOURS = 24.0 * 30


class Role(StrEnum):
    intake = "intake"
    dermatologist = "dermatologist"
    admin = "admin"


class OrgError(DomainError):
    """A request about organizations or keys that cannot be carried out."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(422, "invalid_field", message, field=field, fix="Correct the request.")


@dataclass(frozen=True)
class IssuedKey:
    key: str  # shown once
    record: ApiKey


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def get_org_by_slug(session: Session, slug: str) -> Organization | None:
    return session.scalar(select(Organization).where(Organization.slug == slug))


def create_org(session: Session, *, slug: str, name: str | None = None) -> Organization:
    if not SLUG_PATTERN.match(slug):
        raise OrgError("organization slug must be 2-63 characters: lower-case letters, digits, '-'")
    if get_org_by_slug(session, slug) is not None:
        raise OrgError(f"organization {slug!r} exists already")
    org = Organization(slug=slug, name=name or slug)
    session.add(org)
    session.flush()
    return org


def set_sla(session: Session, *, org: Organization, hours: dict[str, float] | None) -> SlaPolicy:
    policy = SlaPolicy.from_overrides(hours)  # validates; raises ValueError
    org.sla_hours = policy.to_dict() if hours else None
    return policy


def sla_policy(org: Organization) -> SlaPolicy:
    return SlaPolicy.from_overrides(org.sla_hours)


def retake_deadline_hours(org: Organization) -> float:
    """Hours a case of the organization waits for a usable photo before it enters the queue anyway."""
    hours = org.retake_deadline_hours
    return DEFAULT_RETAKE_DEADLINE_HOURS if hours is None else float(hours)


def valid_retake_deadline_hours(hours: float) -> float:
    """``hours`` as a float, unless it is not a positive number of hours up to the maximum (ValueError)."""
    return positive_hours(hours, what="the retake deadline", maximum=MAX_RETAKE_DEADLINE_HOURS)


def set_retake_deadline(session: Session, *, org: Organization, hours: float | None) -> float:
    """Set the organization's retake deadline (None: back to the default); returns the hours in force.
    Raises ``ValueError`` for hours that are not positive (or absurdly many)."""
    org.retake_deadline_hours = None if hours is None else valid_retake_deadline_hours(hours)
    return retake_deadline_hours(org)


def issue_key(session: Session, *, org: Organization, role: Role, label: str = "") -> IssuedKey:
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    record = ApiKey(
        organization_id=org.id, role=role.value, label=label, prefix=prefix, key_hash=hash_key(key)
    )
    session.add(record)
    session.flush()
    return IssuedKey(key=key, record=record)


def find_active_key(session: Session, key: str) -> tuple[ApiKey, Organization] | None:
    row = session.execute(
        select(ApiKey, Organization)
        .join(Organization, Organization.id == ApiKey.organization_id)
        .where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
    ).first()
    return (row[0], row[1]) if row else None


def list_keys(session: Session, *, org: Organization) -> list[ApiKey]:
    return list(
        session.scalars(select(ApiKey).where(ApiKey.organization_id == org.id).order_by(ApiKey.created_at))
    )


def revoke_key(session: Session, *, org: Organization, prefix: str) -> ApiKey:
    key = session.scalar(select(ApiKey).where(ApiKey.organization_id == org.id, ApiKey.prefix == prefix))
    if key is None:
        raise OrgError(f"no key with prefix {prefix!r} in organization {org.slug!r}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key

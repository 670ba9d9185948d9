"""API-key authentication and role checks.

``Authorization: Bearer <key>``; the key's organization scopes every query the request makes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from serving.audit import Actor
from serving.db import transaction
from serving.errors import DomainError, Forbidden
from serving.orgs.models import Organization
from serving.orgs.service import Role, find_active_key
from serving.people.models import User

_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}
#: the API key, as the OpenAPI document declares it (the answer to a missing one is ours: a 401 ErrorBody)
API_KEY = HTTPBearer(
    scheme_name="apiKey",
    description="An API key of your organization: `Authorization: Bearer <key>`. Its role (intake, "
    "dermatologist, admin) decides what it may do.",
    auto_error=False,
)


@dataclass(frozen=True)
class Client:
    """The authenticated caller: an API key of one organization, and the person it belongs to
    (dermatologists and admins; intake keys have ``user_id`` None)."""

    organization: Organization
    key_id: str
    role: Role
    actor: Actor
    user_id: str | None = None
    #: where the user is licensed to review patients (empty for keys without a user)
    jurisdictions: frozenset[str] = frozenset()


def client_address(request: Request) -> str | None:
    if request.app.state.settings.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()[:64]
    return request.client.host if request.client else None


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = request.headers.get("x-request-id", "")[:64] or uuid.uuid4().hex
        request.state.request_id = rid
    return rid


def check_rate(request: Request, caller: str, role: Role) -> None:
    """Count one request of ``caller`` (an API key, a signed-in user) at its role's rate: 429
    ``RateLimited`` when it has none left (serving.limits.rate; the limiter is the app's)."""
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        limiter.check(caller, role.value)


def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(API_KEY)]
) -> Client:
    key = credentials.credentials if credentials else ""
    if not key.strip():
        raise DomainError(
            401,
            "unauthenticated",
            "missing API key",
            fix="Send 'Authorization: Bearer <key>'.",
            headers=_UNAUTHORIZED,
        )
    with transaction(request.app.state.sessions) as session:
        found = find_active_key(session, key.strip())
        user = session.get(User, found[0].user_id) if found and found[0].user_id else None
    if found is not None and user is not None and not user.active:
        raise DomainError(
            401,
            "unauthenticated",
            "the API key belongs to a deactivated user",
            fix="Ask an administrator of your organization to reactivate you or issue you a new key.",
            headers=_UNAUTHORIZED,
        )
    if found is None:
        raise DomainError(
            401,
            "unauthenticated",
            "unknown or revoked API key",
            fix="Use a current key; an administrator can issue one with 'dermatriage keys create'.",
            headers=_UNAUTHORIZED,
        )
    api_key, org = found
    role = Role(api_key.role)
    check_rate(request, f"key:{api_key.id}", role)
    actor = Actor(
        organization_id=org.id,
        key_id=api_key.id,
        role=role.value,
        client_address=client_address(request),
        request_id=request_id(request),
        user_id=user.id if user else None,
    )
    return Client(
        organization=org,
        key_id=api_key.id,
        role=role,
        actor=actor,
        user_id=user.id if user else None,
        jurisdictions=frozenset(user.jurisdictions) if user else frozenset(),
    )


CurrentClient = Annotated[Client, Depends(authenticate)]

#: who reviews cases, and every role
REVIEWERS = (Role.dermatologist, Role.admin)
EVERYONE = (Role.intake, Role.dermatologist, Role.admin)


def require(client: Client, *roles: Role) -> None:
    if client.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise Forbidden(
            f"a key with role {client.role.value!r} may not do this",
            fix=f"Use a key with one of the roles: {allowed}.",
        )

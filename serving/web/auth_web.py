"""Signing in to the pages: the session cookie, CSRF tokens, the lockout, and who is signed in.

- The session cookie holds a random token (the database keeps its hash); HttpOnly, SameSite=Lax,
  Secure outside development and test (``Settings.secure_cookie``).
- Every POST carries the session's CSRF token, as the form field ``csrf_token`` or the header
  ``X-CSRF-Token`` (fetch requests); the sign-in form, before any session, uses a double-submit
  cookie. A missing or wrong token is a 403.
- After ``sign_in_max_failures`` failed attempts within ``sign_in_lockout_minutes`` for one
  organization and sign-in name, sign-in is refused with the same message as a wrong password, so
  the page never tells whether a user exists. Every sign-in, failure and sign-out is audited.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import func, select

from serving.audit import Actor, record
from serving.auth import Client, check_rate, client_address, request_id
from serving.db import transaction, utcnow
from serving.limits.rate import RateLimited
from serving.orgs.models import Organization
from serving.orgs.service import Role, get_org_by_slug
from serving.people.models import User
from serving.web import passwords
from serving.web.sessions import (
    SessionPolicy,
    end_session,
    find_session,
    idle_deadline,
    locked_out,
    note_attempt,
    start_session,
    subject,
    why_ended,
)

SESSION_COOKIE = "dermatriage_session"
SIGN_IN_CSRF_COOKIE = "dermatriage_sign_in"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SIGN_IN_FAILED = (
    "Sign-in failed. Check the organization, your sign-in name and your password. "
    "After 5 failed attempts, sign-in is paused for 15 minutes."
)


class SignInRequired(Exception):
    """No valid session: the page redirects to the sign-in form (``ended``: why a session the browser
    had is over, "idle" or "expired", said there)."""

    def __init__(self, ended: str | None = None):
        super().__init__(ended or "no session")
        self.ended = ended


class CsrfRejected(Exception):
    """A POST without the right CSRF token: 403."""


class TooManyRequests(Exception):
    """A signed-in user over their role's rate (serving.limits.rate): a 429 page with Retry-After."""

    def __init__(self, limited: RateLimited):
        super().__init__(limited.message)
        self.limited = limited


class SignInFailed(Exception):
    """Wrong organization, name or password, or locked out (one message for all)."""


@dataclass(frozen=True)
class WebUser:
    """Who is signed in: the ``Client`` the services take, the user and the session's CSRF token."""

    client: Client
    user: User
    organization: Organization
    session_id: str
    csrf_token: str
    #: when the session ends unless used again (the idle timeout, or its lifetime if sooner)
    ends_at: datetime | None = None

    @property
    def is_admin(self) -> bool:
        return self.client.role is Role.admin

    @property
    def seconds_left(self) -> int:
        """Seconds until the session ends unless used again (for the page's expiry warning)."""
        return max(0, int((self.ends_at - utcnow()).total_seconds())) if self.ends_at else 0


def policy(request: Request) -> SessionPolicy:
    return SessionPolicy.from_settings(request.app.state.settings)


def actor_for(request: Request, *, org_id: str | None, role: str, user_id: str | None) -> Actor:
    return Actor(
        organization_id=org_id,
        key_id=None,
        role=role,
        client_address=client_address(request),
        request_id=request_id(request),
        user_id=user_id,
    )


def _web_user(request: Request, signed) -> WebUser:
    user, org = signed.user, signed.organization
    actor = actor_for(request, org_id=org.id, role=user.role, user_id=user.id)
    client = Client(
        organization=org,
        key_id=None,  # a browser session, not an API key: the audit rows name the user
        role=Role(user.role),
        actor=actor,
        user_id=user.id,
        jurisdictions=frozenset(user.jurisdictions or ()),
    )
    return WebUser(
        client=client,
        user=user,
        organization=org,
        session_id=signed.session.id,
        csrf_token=signed.session.csrf_token,
        ends_at=idle_deadline(signed.session, policy(request)),
    )


def current_user(request: Request, *, touch: bool = True) -> WebUser:
    """The signed-in user, or SignInRequired (``touch``: see ``find_session``)."""
    cached = getattr(request.state, "web_user", None)
    if cached is not None:
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInRequired
    with transaction(request.app.state.sessions) as session:
        signed = find_session(session, token=token, now=utcnow(), policy=policy(request), touch=touch)
        ended = None if signed else why_ended(session, token=token, policy=policy(request))
    if signed is None:
        raise SignInRequired(ended)
    try:  # once per request: later calls take the cached user above
        check_rate(request, f"user:{signed.user.id}", Role(signed.user.role))
    except RateLimited as exc:
        raise TooManyRequests(exc) from exc
    request.state.web_user = _web_user(request, signed)
    return request.state.web_user


async def _sent_token(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def checked_user(request: Request) -> WebUser:
    """The signed-in user of a POST whose CSRF token matches the session's (else CsrfRejected)."""
    user = await run_in_threadpool(current_user, request)
    sent = await _sent_token(request)
    if not sent or not secrets.compare_digest(sent.encode(), user.csrf_token.encode()):
        await close_form(request)
        raise CsrfRejected
    return user


async def close_form(request: Request) -> None:
    """Close a parsed multipart form's spooled files (the page routes read the form themselves)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        await (await request.form()).close()


async def check_sign_in_csrf(request: Request) -> None:
    """The sign-in form's double-submit token: the form field must equal the cookie."""
    cookie = request.cookies.get(SIGN_IN_CSRF_COOKIE, "")
    sent = await _sent_token(request)
    if not cookie or not sent or not secrets.compare_digest(sent.encode(), cookie.encode()):
        raise CsrfRejected


CurrentUser = Annotated[WebUser, Depends(current_user)]
CheckedUser = Annotated[WebUser, Depends(checked_user)]


def new_sign_in_token() -> str:
    return secrets.token_urlsafe(32)


def set_cookie(request: Request, response: Response, name: str, value: str, *, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.secure_cookie,
        path="/",
    )


class AmbiguousOrganization(SignInFailed):
    """The organization typed by name, and several organizations have that name."""


def organization_for_sign_in(session, typed: str) -> Organization | None:
    """The organization typed on the sign-in form: by its slug, else by its name (case and extra spaces
    ignored); AmbiguousOrganization when several organizations have that name."""
    plain = " ".join((typed or "").split())
    if not plain:
        return None
    org = get_org_by_slug(session, plain.lower())
    if org is not None:
        return org
    named = session.scalars(
        select(Organization).where(func.lower(Organization.name) == plain.lower()).limit(2)
    ).all()
    if len(named) > 1:
        raise AmbiguousOrganization(
            f"Several organizations are named {plain[:100]!r}. Type your organization's short name "
            "(its slug, e.g. 'clinic-north') instead; your administrator can tell you."
        )
    return named[0] if named else None


def sign_in(request: Request, *, org_slug: str, login: str, password: str) -> str:
    """Check the password and open a session; returns the session token. SignInFailed otherwise
    (unknown organization or user, wrong password, locked out: the same error)."""
    now, rules = utcnow(), policy(request)
    address = client_address(request)
    with transaction(request.app.state.sessions) as session:
        org = organization_for_sign_in(session, org_slug)
        who = subject(org.slug if org else org_slug, login)  # by name or by slug: one lockout
        credential = passwords.find_credential(session, org=org, login=login)
        user = session.get(User, credential.user_id) if credential else None
        locked = locked_out(session, subject=who, now=now, policy=rules)
        # the hash is verified even when locked out or unknown, so every failure takes as long
        matches = passwords.check_password(credential, password[: passwords.MAX_LENGTH])
        ok = matches and not locked and user is not None and user.active
        outcome = "ok" if ok else ("locked_out" if locked else "failed")
        note_attempt(
            session,
            subject=who,
            now=now,
            succeeded=ok,
            user_id=user.id if user else None,
            client_address=address,
        )
        token = None
        detail = {"organization": (org_slug or "")[:64], "login": (login or "")[:100]}
        if ok:
            token, row = start_session(
                session,
                user=user,
                now=now,
                policy=rules,
                client_address=address,
                user_agent=request.headers.get("user-agent"),
            )
            detail["session_id"] = row.id
        record(
            session,
            actor=actor_for(
                request,
                org_id=org.id if org else None,
                role=user.role if user else "anonymous",
                user_id=user.id if user else None,
            ),
            action="web.sign_in",
            resource_type="user",
            resource_id=user.id if user else None,
            outcome=outcome,
            detail=detail,
        )
    if token is None:
        raise SignInFailed(SIGN_IN_FAILED)
    return token


def sign_out(request: Request, user: WebUser) -> None:
    with transaction(request.app.state.sessions) as session:
        end_session(session, session_id=user.session_id, now=utcnow())
        record(
            session,
            actor=user.client.actor,
            action="web.sign_out",
            resource_type="user",
            resource_id=user.user.id,
            detail={"session_id": user.session_id},
        )

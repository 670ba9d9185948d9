"""Helpers for the page tests: users with passwords, signing in through the form, CSRF tokens."""

from __future__ import annotations

import re

from sqlalchemy import select

from serving.audit import Actor
from serving.db import transaction
from serving.orgs.models import Organization
from serving.people.models import User
from serving.people.service import create_user
from serving.web.passwords import set_password

PASSWORD = "correct horse battery staple"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def with_password(
    sessions,
    org_id: str,
    *,
    login: str,
    password: str = PASSWORD,
    role: str = "dermatologist",
    jurisdictions: tuple[str, ...] = ("US-CA", "US-NY", "US-TX", "US"),
    name: str | None = None,
) -> str:
    """A new user of the organization who signs in as ``login``; returns the user id."""
    with transaction(sessions) as session:
        org = session.get(Organization, org_id)
        user = create_user(
            session,
            org=org,
            name=name or f"Dr. {login.title()}",
            role=role,
            jurisdictions=jurisdictions if role == "dermatologist" else (),
        ).user
        set_password(
            session,
            org=org,
            user=user,
            password=password,
            login=login,
            actor=Actor(org.id, None, "operator"),
        )
        return user.id


def default_dermatologist(sessions, org_id: str, *, login: str = "derm") -> str:
    """Give make_org()'s dermatologist a password; returns their user id."""
    with transaction(sessions) as session:
        org = session.get(Organization, org_id)
        user = session.scalar(
            select(User).where(User.organization_id == org_id, User.role == "dermatologist")
        )
        set_password(
            session, org=org, user=user, password=PASSWORD, login=login, actor=Actor(org.id, None, "operator")
        )
        return user.id


def sign_in(client, org_slug: str, login: str, password: str = PASSWORD, *, follow: bool = False):
    page = client.get("/sign-in")
    token = CSRF_FIELD.search(page.text).group(1)
    return client.post(
        "/sign-in",
        data={
            "csrf_token": token,
            "organization": org_slug,
            "login": login,
            "password": password,
            "next": "",
        },
        follow_redirects=follow,
    )


def csrf(client, path: str = "/queue") -> str:
    return CSRF_META.search(client.get(path).text).group(1)

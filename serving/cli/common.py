"""What every command shares: the settings from the environment, a migrated database, the operator
who acts at the command line, and an organization named by its slug."""

from __future__ import annotations

import click
from sqlalchemy.orm import Session, sessionmaker

from serving.audit import Actor
from serving.db import make_engine, make_session_factory
from serving.encryption import Keyring, KeyringError, keyring_from
from serving.migrations import upgrade
from serving.orgs.models import Organization
from serving.orgs.service import get_org_by_slug
from serving.settings import Settings


def settings() -> Settings:
    return Settings()


def keyring(config: Settings) -> Keyring | None:
    """The storage keys (``serving.encryption``); a key that cannot be used ends the command."""
    try:
        return keyring_from(config)
    except KeyringError as exc:
        raise click.ClickException(str(exc)) from None


def sessions(config: Settings) -> sessionmaker[Session]:
    """The database, migrated; its connections are closed when the command ends."""
    keys = keyring(config)
    upgrade(config.database_url, keyring=keys)
    engine = make_engine(config.database_url)
    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(engine.dispose)  # no connection left open when the command ends
    return make_session_factory(engine, keyring=keys)


def operator(org_id: str) -> Actor:
    return Actor(organization_id=org_id, key_id=None, role="operator")


def require_org(session: Session, slug: str, *, hint: str = "") -> Organization:
    org = get_org_by_slug(session, slug)
    if org is None:
        raise click.ClickException(f"no organization {slug!r}{hint}")
    return org

"""``dermatriage users``: the dermatologists and admins of an organization."""

from __future__ import annotations

import sys

import click

from serving.cli.common import operator, require_org, sessions, settings
from serving.db import transaction
from serving.errors import DomainError
from serving.people.service import create_user, get_user, list_users
from serving.queue.staff import deactivate_user
from serving.web.passwords import PasswordError, set_password


@click.group()
def users() -> None:
    """Dermatologists and admins of an organization."""


@users.command("create")
@click.option("--org", "slug", required=True, help="Organization slug.")
@click.option("--name", required=True, help="e.g. 'Dr. Ada Lovelace'.")
@click.option("--role", type=click.Choice(["dermatologist", "admin"]), required=True)
@click.option(
    "--jurisdiction",
    "jurisdictions",
    multiple=True,
    help="Where a dermatologist is licensed (ISO 3166, e.g. US-CA); repeat for each.",
)
def users_create(slug: str, name: str, role: str, jurisdictions: tuple[str, ...]) -> None:
    """Create a user and their API key. The key is printed once and never stored; keep it safe."""
    with transaction(sessions(settings())) as session:
        org = require_org(session, slug, hint="; create it with 'dermatriage orgs create'")
        try:
            issued = create_user(
                session, org=org, name=name, role=role, jurisdictions=jurisdictions, actor=operator(org.id)
            )
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
    user = issued.user
    where = f", licensed in {', '.join(user.jurisdictions)}" if user.jurisdictions else ""
    click.echo(f"{role} {user.name} ({user.id}) created in {slug}{where}", err=True)
    click.echo("API key; shown once:", err=True)
    click.echo(issued.key)


@users.command("list")
@click.option("--org", "slug", required=True)
def users_list(slug: str) -> None:
    with transaction(sessions(settings())) as session:
        org = require_org(session, slug)
        for u in list_users(session, org=org):
            state = "active" if u.active else f"deactivated {u.deactivated_at:%Y-%m-%d}"
            click.echo(f"{u.id}  {u.role:13s} {state:22s} {u.name}  {' '.join(u.jurisdictions)}")


@users.command("deactivate")
@click.option("--org", "slug", required=True)
@click.argument("user_id")
def users_deactivate(slug: str, user_id: str) -> None:
    """Revoke a user's keys; the cases they hold go back to the queue."""
    with transaction(sessions(settings())) as session:
        org = require_org(session, slug)
        try:
            user = deactivate_user(session, org=org, user_id=user_id, actor=operator(org.id))
        except DomainError as exc:
            raise click.ClickException(f"no user {user_id!r} in {slug}") from exc
    click.echo(f"{user.name} deactivated; their keys are revoked")


@users.command("set-password")
@click.option("--org", "slug", required=True)
@click.option("--user-id", required=True, help="From 'dermatriage users list'.")
@click.option(
    "--login", default=None, help="Sign-in name for the pages (default: the one set before, or the user id)."
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (else prompt).")
def users_set_password(slug: str, user_id: str, login: str | None, password_stdin: bool) -> None:
    """Set the password a dermatologist or admin signs in to the pages with (argon2id hash only).
    Their other browser sessions are signed out."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with transaction(sessions(settings())) as session:
        org = require_org(session, slug)
        try:
            user = get_user(session, org=org, user_id=user_id)
            credential = set_password(
                session, org=org, user=user, password=password, login=login, actor=operator(org.id)
            )
        except DomainError as exc:
            raise click.ClickException(f"no user {user_id!r} in {slug}") from exc
        except PasswordError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"{user.name} signs in to {slug} as {credential.login!r}")

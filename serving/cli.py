"""The ``dermatriage`` command line."""

from __future__ import annotations

import sys

import click

from serving.db import make_engine, make_session_factory, transaction
from serving.settings import Settings


def _settings() -> Settings:
    return Settings()


def _sessions(settings: Settings):
    from serving.migrations import upgrade

    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(engine.dispose)  # no connection left open when the command ends
    return make_session_factory(engine)


@click.group()
def main() -> None:
    """dermatriage: intake and triage for store-and-forward teledermatology."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
def serve(host: str, port: int, workers: int) -> None:
    """Run the API (migrates the database first)."""
    import uvicorn

    settings = _settings()
    if workers > 1:
        uvicorn.run("serving.asgi:app", host=host, port=port, workers=workers, log_level=settings.log_level)
    else:
        from serving.app import create_app

        uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the migrations up to REVISION."""
    from serving.migrations import upgrade

    settings = _settings()
    upgrade(settings.database_url, revision)
    click.echo(f"database at {revision}")


@main.group()
def orgs() -> None:
    """Organizations."""


@orgs.command("create")
@click.option("--slug", required=True, help="Short id, e.g. 'sunrise-derm'.")
@click.option("--name", default=None)
def orgs_create(slug: str, name: str | None) -> None:
    from serving.orgs.service import OrgError, create_org

    try:
        with transaction(_sessions(_settings())) as session:
            org = create_org(session, slug=slug, name=name)
    except OrgError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"organization {org.slug} created ({org.id})")


@orgs.command("sla")
@click.option("--org", "slug", required=True)
@click.argument("hours", nargs=-1)
def orgs_sla(slug: str, hours: tuple[str, ...]) -> None:
    """Show or set review SLAs, e.g. `dermatriage orgs sla --org acme URGENT=2 PRIORITY=12`.
    `--org acme default` restores the defaults."""
    from serving.orgs.service import get_org_by_slug, set_sla, sla_policy

    overrides: dict[str, float] | None = None
    if hours and hours != ("default",):
        try:
            overrides = {k.upper(): float(v) for k, v in (h.split("=", 1) for h in hours)}
        except ValueError as exc:
            raise click.BadParameter("give TIER=HOURS pairs, e.g. URGENT=2") from exc
    with transaction(_sessions(_settings())) as session:
        org = get_org_by_slug(session, slug)
        if org is None:
            raise click.ClickException(f"no organization {slug!r}")
        try:
            policy = set_sla(session, org=org, hours=overrides) if hours else sla_policy(org)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    for tier, h in policy.to_dict().items():
        click.echo(f"{tier:10s} {h:g} h")


@orgs.command("webhook")
@click.option("--org", "slug", required=True)
@click.option(
    "--url", default=None, help="Where to POST the organization's events, e.g. https://app.example/hooks."
)
@click.option(
    "--rotate-secret", is_flag=True, help="Make a new signing secret (printed once; the old one stops)."
)
@click.option("--remove", is_flag=True, help="Stop sending events (GET /v1/events keeps them).")
def orgs_webhook(slug: str, url: str | None, rotate_secret: bool, remove: bool) -> None:
    """Show or set where an organization's events are sent. A new signing secret is printed once."""
    from serving.audit import Actor
    from serving.events.service import configure_webhook, webhook_status
    from serving.orgs.service import OrgError, get_org_by_slug

    sessions = _sessions(_settings())
    with transaction(sessions) as session:
        org = get_org_by_slug(session, slug)
    if org is None:
        raise click.ClickException(f"no organization {slug!r}")
    actor = Actor(organization_id=org.id, key_id=None, role="operator")
    if remove and (url or rotate_secret):
        raise click.UsageError("--remove goes alone")
    if rotate_secret and not (url or org.webhook_url):
        raise click.UsageError("the organization has no webhook yet: give --url")
    try:
        if remove or url or rotate_secret:
            target = None if remove else (url or org.webhook_url)
            status = configure_webhook(
                sessions, org=org, actor=actor, url=target, rotate_secret=rotate_secret
            )
        else:
            status = webhook_status(sessions, org=org, actor=actor)
    except OrgError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"webhook: {status.url or 'none (events in GET /v1/events only)'}", err=True)
    click.echo(f"events pending: {status.pending}, given up: {status.failed}", err=True)
    if status.secret:
        click.echo("signing secret; shown once:", err=True)
        click.echo(status.secret)


@main.command()
@click.option("--once", is_flag=True, help="One delivery pass, then exit.")
def worker(once: bool) -> None:
    """Deliver webhook events until interrupted (Ctrl-C or SIGTERM finish the pass under way)."""
    import logging
    import signal
    import threading

    from serving.events.delivery import RetryPolicy
    from serving.events.worker import deliver_due, run_worker

    settings = _settings()
    sessions = _sessions(settings)
    policy = RetryPolicy.from_settings(settings)
    if once:
        click.echo(f"{deliver_due(sessions, policy=policy)} event(s) delivered")
        return
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"delivering events every {settings.event_poll_seconds:g} s; Ctrl-C to stop", err=True)
    run_worker(sessions, policy=policy, poll_seconds=settings.event_poll_seconds, stop=stop)
    click.echo("worker stopped", err=True)


@main.group("follow-ups")
def follow_ups() -> None:
    """Follow-ups of diagnosed cases."""


@follow_ups.command("remind")
def follow_ups_remind() -> None:
    """Write a follow_up.due event (once) for every follow-up that has come due without photos.
    Run it periodically (e.g. every few minutes from cron); the worker delivers the events."""
    from serving.consults.follow_ups import emit_due_follow_ups
    from serving.db import utcnow

    sessions, now, total = _sessions(_settings()), utcnow(), 0
    try:
        while True:  # a batch per transaction, until none is left
            with transaction(sessions) as session:
                count = emit_due_follow_ups(session, now)
            total += count
            if not count:
                break
    finally:
        sessions.kw["bind"].dispose()
    click.echo(f"{total} follow-up reminder(s) written")


@main.group()
def photos() -> None:
    """The photo store."""


@photos.command("sweep")
@click.option("--grace", default=3600.0, show_default=True, help="Keep objects younger than this (seconds).")
def photos_sweep(grace: float) -> None:
    """Delete stored files that no photo references (left by a crash mid-request)."""
    from serving.photos.store import PhotoStore
    from serving.photos.sweep import sweep_orphans

    settings = _settings()
    removed = sweep_orphans(_sessions(settings), PhotoStore(settings.photo_dir), grace_s=grace)
    click.echo(f"{len(removed)} orphaned file(s) removed from {settings.photo_dir}")


@main.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--org", "slug", required=True, help="Organization slug (created if it does not exist).")
@click.option("--role", type=click.Choice(["intake", "dermatologist", "admin"]), required=True)
@click.option("--label", default="", help="What the key is for, e.g. 'patient app'.")
def keys_create(slug: str, role: str, label: str) -> None:
    """Issue a key. It is printed once and never stored; keep it safe."""
    from serving.orgs.service import OrgError, Role, create_org, get_org_by_slug, issue_key

    with transaction(_sessions(_settings())) as session:
        org = get_org_by_slug(session, slug)
        if org is None:
            try:
                org = create_org(session, slug=slug)
            except OrgError as exc:
                raise click.ClickException(str(exc)) from exc
            click.echo(f"organization {slug} created", err=True)
        issued = issue_key(session, org=org, role=Role(role), label=label)
    click.echo(f"{role} key for {slug} (prefix {issued.record.prefix}); shown once:", err=True)
    click.echo(issued.key)


@keys.command("list")
@click.option("--org", "slug", required=True)
def keys_list(slug: str) -> None:
    from serving.orgs.service import get_org_by_slug, list_keys

    with transaction(_sessions(_settings())) as session:
        org = get_org_by_slug(session, slug)
        if org is None:
            raise click.ClickException(f"no organization {slug!r}")
        for k in list_keys(session, org=org):
            state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
            click.echo(f"{k.prefix}  {k.role:13s} {state:18s} {k.created_at:%Y-%m-%d}  {k.label}")


@keys.command("revoke")
@click.option("--org", "slug", required=True)
@click.argument("prefix")
def keys_revoke(slug: str, prefix: str) -> None:
    from serving.orgs.service import OrgError, get_org_by_slug, revoke_key

    with transaction(_sessions(_settings())) as session:
        org = get_org_by_slug(session, slug)
        if org is None:
            raise click.ClickException(f"no organization {slug!r}")
        try:
            revoke_key(session, org=org, prefix=prefix)
        except OrgError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"key {prefix} revoked")


@main.group()
def users() -> None:
    """Dermatologists and admins of an organization."""


def _operator(org_id: str):
    from serving.audit import Actor

    return Actor(organization_id=org_id, key_id=None, role="operator")


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
    from serving.orgs.service import get_org_by_slug
    from serving.people.service import PeopleError, create_user

    with transaction(_sessions(_settings())) as session:
        org = get_org_by_slug(session, slug)
        if org is None:
            raise click.ClickException(f"no organization {slug!r}; create it with 'dermatriage orgs create'")
        try:
            issued = create_user(
                session, org=org, name=name, role=role, jurisdictions=jurisdictions, actor=_operator(org.id)
            )
        except PeopleError as exc:
            raise click.ClickException(str(exc)) from exc
    user = issued.user
    where = f", licensed in {', '.join(user.jurisdictions)}" if user.jurisdictions else ""
    click.echo(f"{role} {user.name} ({user.id}) created in {slug}{where}", err=True)
    click.echo("API key; shown once:", err=True)
    click.echo(issued.key)


@users.command("list")
@click.option("--org", "slug", required=True)
def users_list(slug: str) -> None:
    from serving.orgs.service import get_org_by_slug
    from serving.people.service import list_users

    with transaction(_sessions(_settings())) as session:
        org = get_org_by_slug(session, slug)
        if org is None:
            raise click.ClickException(f"no organization {slug!r}")
        for u in list_users(session, org=org):
            state = "active" if u.active else f"deactivated {u.deactivated_at:%Y-%m-%d}"
            click.echo(f"{u.id}  {u.role:13s} {state:22s} {u.name}  {' '.join(u.jurisdictions)}")


@users.command("deactivate")
@click.option("--org", "slug", required=True)
@click.argument("user_id")
def users_deactivate(slug: str, user_id: str) -> None:
    """Revoke a user's keys; the cases they hold go back to the queue."""
    from serving.orgs.service import get_org_by_slug
    from serving.people.service import UserNotFound, deactivate_user

    with transaction(_sessions(_settings())) as session:
        org = get_org_by_slug(session, slug)
        if org is None:
            raise click.ClickException(f"no organization {slug!r}")
        try:
            user = deactivate_user(session, org=org, user_id=user_id, actor=_operator(org.id))
        except UserNotFound as exc:
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
    from serving.orgs.service import get_org_by_slug
    from serving.people.service import UserNotFound, get_user
    from serving.web.passwords import PasswordError, set_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with transaction(_sessions(_settings())) as session:
        org = get_org_by_slug(session, slug)
        if org is None:
            raise click.ClickException(f"no organization {slug!r}")
        try:
            user = get_user(session, org=org, user_id=user_id)
            credential = set_password(
                session, org=org, user=user, password=password, login=login, actor=_operator(org.id)
            )
        except UserNotFound as exc:
            raise click.ClickException(f"no user {user_id!r} in {slug}") from exc
        except PasswordError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"{user.name} signs in to {slug} as {credential.login!r}")


@main.group("queue")
def queue_group() -> None:
    """The dermatologists' queue."""


@queue_group.command("sweep")
def queue_sweep() -> None:
    """Return cases whose review lease has expired to the queue (claims and listings also do this)."""
    from serving.queue.service import sweep_expired_leases

    sessions = _sessions(_settings())
    total = 0
    while True:
        with transaction(sessions) as session:
            returned = sweep_expired_leases(session)
        total += len(returned)
        if not returned:
            break
    click.echo(f"{total} case(s) returned to the queue")


def _add_training_commands() -> None:
    from training.cli import register

    register(main)


_add_training_commands()

if __name__ == "__main__":
    sys.exit(main())

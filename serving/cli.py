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
    return make_session_factory(make_engine(settings.database_url))


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


def _add_training_commands() -> None:
    from training.cli import register

    register(main)


_add_training_commands()

if __name__ == "__main__":
    sys.exit(main())

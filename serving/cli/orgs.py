"""``dermatriage orgs`` and ``dermatriage keys``: organizations, their review SLAs, retake deadlines,
webhooks, video URL templates and keys."""

from __future__ import annotations

import click

from serving.cli.common import operator, require_org, sessions, settings
from serving.consults.video_visits import set_url_template
from serving.db import transaction
from serving.errors import DomainError
from serving.events.service import configure_webhook, webhook_status
from serving.orgs.service import (
    Role,
    create_org,
    get_org_by_slug,
    issue_key,
    list_keys,
    retake_deadline_hours,
    revoke_key,
    set_retake_deadline,
    set_sla,
    sla_policy,
)


@click.group()
def orgs() -> None:
    """Organizations."""


@orgs.command("create")
@click.option("--slug", required=True, help="Short id, e.g. 'sunrise-derm'.")
@click.option("--name", default=None)
def orgs_create(slug: str, name: str | None) -> None:
    try:
        with transaction(sessions(settings())) as session:
            org = create_org(session, slug=slug, name=name)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"organization {org.slug} created ({org.id})")


@orgs.command("sla")
@click.option("--org", "slug", required=True)
@click.argument("hours", nargs=-1)
def orgs_sla(slug: str, hours: tuple[str, ...]) -> None:
    """Show or set review SLAs, e.g. `dermatriage orgs sla --org acme URGENT=2 PRIORITY=12`.
    `--org acme default` restores the defaults."""
    overrides: dict[str, float] | None = None
    if hours and hours != ("default",):
        try:
            overrides = {k.upper(): float(v) for k, v in (h.split("=", 1) for h in hours)}
        except ValueError as exc:
            raise click.BadParameter("give TIER=HOURS pairs, e.g. URGENT=2") from exc
    with transaction(sessions(settings())) as session:
        org = require_org(session, slug)
        try:
            policy = set_sla(session, org=org, hours=overrides) if hours else sla_policy(org)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    for tier, h in policy.to_dict().items():
        click.echo(f"{tier:10s} {h:g} h")


@orgs.command("retake-deadline")
@click.option("--org", "slug", required=True)
@click.argument("hours", required=False)
def orgs_retake_deadline(slug: str, hours: str | None) -> None:
    """Show or set how many hours a case waits for a usable photo before it enters the queue anyway,
    e.g. `dermatriage orgs retake-deadline --org acme 24`. `--org acme default` restores the default."""
    value: float | None = None
    if hours is not None and hours != "default":
        try:
            value = float(hours)
        except ValueError as exc:
            raise click.BadParameter("give a number of hours, e.g. 24, or 'default'") from exc
    with transaction(sessions(settings())) as session:
        org = require_org(session, slug)
        try:
            current = (
                set_retake_deadline(session, org=org, hours=value)
                if hours is not None
                else retake_deadline_hours(org)
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        custom = org.retake_deadline_hours is not None
    click.echo(f"retake deadline {current:g} h{'' if custom else ' (default)'}")


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
    database = sessions(settings())
    with transaction(database) as session:
        org = require_org(session, slug)
    actor = operator(org.id)
    if remove and (url or rotate_secret):
        raise click.UsageError("--remove goes alone")
    if rotate_secret and not (url or org.webhook_url):
        raise click.UsageError("the organization has no webhook yet: give --url")
    try:
        if remove or url or rotate_secret:
            target = None if remove else (url or org.webhook_url)
            status = configure_webhook(
                database, org=org, actor=actor, url=target, rotate_secret=rotate_secret
            )
        else:
            status = webhook_status(database, org=org, actor=actor)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"webhook: {status.url or 'none (events in GET /v1/events only)'}", err=True)
    click.echo(f"events pending: {status.pending}, given up: {status.failed}", err=True)
    if status.secret:
        click.echo("signing secret; shown once:", err=True)
        click.echo(status.secret)


@orgs.command("video-url")
@click.option("--org", "slug", required=True)
@click.option("--remove", is_flag=True, help="No template: the practice sends visit links itself.")
@click.argument("template", required=False)
def orgs_video_url(slug: str, template: str | None, remove: bool) -> None:
    """Show or set the URL template of the practice's video provider, from which every video visit's
    join link is built ({visit_id}, {case_id}), e.g.
    `dermatriage orgs video-url --org acme 'https://meet.example.com/derm-{visit_id}'`."""
    if remove and template:
        raise click.UsageError("--remove goes alone")
    with transaction(sessions(settings())) as session:
        org = require_org(session, slug)
        if template is not None or remove:
            try:
                set_url_template(session, org=org, template=template, actor=operator(org.id))
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="TEMPLATE") from exc
        current = org.video_url_template
    click.echo(f"video url: {current or 'none (the practice sends visit links itself)'}")


@click.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--org", "slug", required=True, help="Organization slug (created if it does not exist).")
@click.option("--role", type=click.Choice(["intake", "dermatologist", "admin"]), required=True)
@click.option("--label", default="", help="What the key is for, e.g. 'patient app'.")
def keys_create(slug: str, role: str, label: str) -> None:
    """Issue a key. It is printed once and never stored; keep it safe."""
    with transaction(sessions(settings())) as session:
        org = get_org_by_slug(session, slug)
        if org is None:
            try:
                org = create_org(session, slug=slug)
            except DomainError as exc:
                raise click.ClickException(exc.message) from exc
            click.echo(f"organization {slug} created", err=True)
        issued = issue_key(session, org=org, role=Role(role), label=label)
    click.echo(f"{role} key for {slug} (prefix {issued.record.prefix}); shown once:", err=True)
    click.echo(issued.key)


@keys.command("list")
@click.option("--org", "slug", required=True)
def keys_list(slug: str) -> None:
    with transaction(sessions(settings())) as session:
        org = require_org(session, slug)
        for k in list_keys(session, org=org):
            state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
            click.echo(f"{k.prefix}  {k.role:13s} {state:18s} {k.created_at:%Y-%m-%d}  {k.label}")


@keys.command("revoke")
@click.option("--org", "slug", required=True)
@click.argument("prefix")
def keys_revoke(slug: str, prefix: str) -> None:
    with transaction(sessions(settings())) as session:
        org = require_org(session, slug)
        try:
            revoke_key(session, org=org, prefix=prefix)
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
    click.echo(f"key {prefix} revoked")

"""Running the service and its chores: ``serve``, ``db upgrade``, ``worker``, ``follow-ups remind``,
``retakes queue-overdue``, ``photos sweep``, ``queue sweep``."""

from __future__ import annotations

import signal
import threading

import click
import uvicorn
from prometheus_client import start_http_server

from serving.app import create_app
from serving.cases.retake_deadline import queue_overdue_retakes
from serving.cli.common import keyring, require_org, sessions, settings
from serving.consults.follow_ups import emit_due_follow_ups
from serving.db import transaction, utcnow
from serving.events.delivery import RetryPolicy
from serving.limits.connection import HTTP_PROTOCOL
from serving.migrations import upgrade
from serving.observability import metrics_directory
from serving.observability.logs import configure_logging, logging_config
from serving.photos.backends import photo_store_from
from serving.photos.sweep import sweep_orphans
from serving.queue.expiry import sweep_expired_leases
from serving.worker import deliver_due, run_worker


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.option(
    "--worker-timeout",
    default=30,
    show_default=True,
    type=click.IntRange(min=1),
    help="With several workers: seconds a worker may leave its supervisor's health check unanswered "
    "(starting up, or busy with photos) before it is killed and replaced (uvicorn's default, 5, kills "
    "busy workers on a loaded machine).",
)
def serve(host: str, port: int, workers: int, worker_timeout: int) -> None:
    """Run the API (migrates the database first)."""
    config = settings()
    # every line through the service's formatter (log_format); its own access line replaces uvicorn's
    configure_logging(config)  # already for what create_app says; uvicorn applies the same in each worker
    logs = {"log_level": config.log_level, "log_config": logging_config(config), "access_log": False}
    # HTTP_PROTOCOL: uvicorn's, with a timeout on the request line and headers (serving/limits/connection.py)
    if workers > 1:
        with metrics_directory():  # the workers' metric files, added up by /metrics
            uvicorn.run(
                "serving.asgi:app",
                host=host,
                port=port,
                workers=workers,
                timeout_worker_healthcheck=worker_timeout,
                http=HTTP_PROTOCOL,
                **logs,
            )
    else:
        uvicorn.run(create_app(config), host=host, port=port, http=HTTP_PROTOCOL, **logs)


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the migrations up to REVISION."""
    config = settings()
    upgrade(config.database_url, revision, keyring=keyring(config))
    click.echo(f"database at {revision}")


@click.command()
@click.option("--once", is_flag=True, help="One delivery pass, then exit.")
@click.option("--metrics-port", type=int, default=None, help="Serve this process's /metrics on this port.")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="... on this address.")
def worker(once: bool, metrics_port: int | None, metrics_host: str) -> None:
    """Deliver webhook events until interrupted (Ctrl-C or SIGTERM finish the pass under way)."""
    config = settings()
    database = sessions(config)
    policy = RetryPolicy.from_settings(config)
    if once:
        click.echo(f"{deliver_due(database, policy=policy)} event(s) delivered")
        return
    configure_logging(config)
    if metrics_port is not None:  # the delivery counters of this process (the backlog is in the API's)
        start_http_server(metrics_port, addr=metrics_host)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"delivering events every {config.event_poll_seconds:g} s; Ctrl-C to stop", err=True)
    run_worker(database, policy=policy, poll_seconds=config.event_poll_seconds, stop=stop)
    click.echo("worker stopped", err=True)


def _until_none_left(step) -> int:
    """Run ``step(session) -> count`` a batch per transaction until a batch finds nothing; the total."""
    database, total = sessions(settings()), 0
    while True:
        with transaction(database) as session:
            count = step(session)
        total += count
        if not count:
            return total


@click.group("follow-ups")
def follow_ups() -> None:
    """Follow-ups of diagnosed cases."""


@follow_ups.command("remind")
def follow_ups_remind() -> None:
    """Write a follow_up.due event (once) for every follow-up that has come due without photos.
    Run it periodically (e.g. every few minutes from cron); the worker delivers the events."""
    now = utcnow()
    total = _until_none_left(lambda session: emit_due_follow_ups(session, now))
    click.echo(f"{total} follow-up reminder(s) written")


@click.group()
def retakes() -> None:
    """Cases waiting for a retake."""


@retakes.command("queue-overdue")
@click.option("--org", "slug", default=None, help="Only this organization (all by default).")
def retakes_queue_overdue(slug: str | None) -> None:
    """Put every case that has waited for a usable photo past its organization's retake deadline in the
    queue (event case.retake_deadline_passed). The delivery worker also does it on every pass; run this
    from cron when no worker runs."""
    database = sessions(settings())
    org_id = None
    if slug is not None:
        with transaction(database) as session:
            org_id = require_org(session, slug).id
    now = utcnow()
    total = _until_none_left(lambda session: queue_overdue_retakes(session, now, organization_id=org_id))
    click.echo(f"{total} case(s) queued after their retake deadline")


@click.group()
def photos() -> None:
    """The photo store."""


@photos.command("sweep")
@click.option("--grace", default=3600.0, show_default=True, help="Keep objects younger than this (seconds).")
def photos_sweep(grace: float) -> None:
    """Delete stored files that no photo or message attachment references (left by a crash mid-request)."""
    config = settings()
    store = photo_store_from(config, keyring=keyring(config))
    removed = sweep_orphans(sessions(config), store, grace_s=grace)
    click.echo(f"{len(removed)} orphaned file(s) removed from {store.location}")


@click.group("queue")
def queue_group() -> None:
    """The dermatologists' queue."""


@queue_group.command("sweep")
def queue_sweep() -> None:
    """Return cases whose review lease has expired to the queue (claims and listings also do this)."""
    total = _until_none_left(lambda session: len(sweep_expired_leases(session)))
    click.echo(f"{total} case(s) returned to the queue")

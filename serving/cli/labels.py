"""``dermatriage data export-labels``: the service's labelled photos as a training source. The ``data``
group is the service's; with the training extra, ``data build`` and the other raw-data commands join it
(``training.cli.register``)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy import select

from data_pipelines.splits import SERVICE_TEST_SHARE
from serving.cli.common import keyring, operator, require_org, sessions, settings
from serving.cli.storage import store_of
from serving.db import transaction
from serving.labels.export import ExportRefused, export_labels
from serving.orgs.models import Organization


@click.group("data")
def data_group() -> None:
    """Training data: the service's own labelled photos out (and, with the training extra, raw data ->
    manifests)."""


def chosen_organizations(session, slugs: tuple[str, ...], every: bool) -> list[Organization]:
    """The organizations named, all of them when asked, or the only one there is; an export never
    crosses organizations unless asked."""
    if slugs and every:
        raise click.UsageError("give either --org or --all-organizations, not both")
    if slugs:
        return [require_org(session, slug) for slug in dict.fromkeys(slugs)]
    orgs = list(session.scalars(select(Organization).order_by(Organization.slug)))
    if every or len(orgs) == 1:
        return orgs
    if not orgs:
        raise click.ClickException("there is no organization yet: nothing to export")
    raise click.UsageError(
        f"there are {len(orgs)} organizations ({', '.join(o.slug for o in orgs)}): name one with --org SLUG "
        "(repeatable), or export them together with --all-organizations"
    )


@data_group.command("export-labels")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="A new (or empty) folder for manifest.csv, images/ and export.json.",
)
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Only cases with a diagnosis or pathology result recorded on or after this date (YYYY-MM-DD).",
)
@click.option("--org", "orgs", multiple=True, metavar="SLUG", help="An organization (repeatable).")
@click.option(
    "--all-organizations", "every", is_flag=True, help="Every organization, together in one export."
)
@click.option("--folds", default=5, show_default=True, help="Cross-validation folds of the train patients.")
@click.option(
    "--test-share",
    default=SERVICE_TEST_SHARE,
    show_default=True,
    type=click.FloatRange(0, 1, max_open=True),
    help="Share of the patients held out as the export's own test split (by a hash of the patient: "
    "stable across exports).",
)
@click.option(
    "--progress/--no-progress", default=sys.stderr.isatty(), help="A progress bar per organization."
)
def export_labels_command(
    out: Path,
    since: datetime | None,
    orgs: tuple[str, ...],
    every: bool,
    folds: int,
    test_share: float,
    progress: bool,
) -> None:
    """Write the photos of research-consented cases with their outcome labels (pathology, else the
    confirmed diagnosis, mapped to the model's classes) and structured answers, as a training manifest
    (source dermatriage_service, patient-grouped splits, sha256). Train on it beside PAD-UFES-20 with
    `dermatriage train urgency label_export=DIR sources=[pad_ufes_20,dermatriage_service]`."""
    if folds < 2:
        raise click.BadParameter("at least 2", param_hint="--folds")
    config = settings()
    factory = sessions(config)
    with transaction(factory) as session:
        chosen = chosen_organizations(session, orgs, every)
        session.expunge_all()
    try:
        summary = export_labels(
            factory,
            store_of(config, keyring(config)),
            out=out,
            organizations=chosen,
            since=since.date() if since else None,
            k_folds=folds,
            test_share=test_share,
            actor_for=operator,
            now=lambda: datetime.now(UTC),
            progress=progress,
        )
    except ExportRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"exported {summary.cases_exported} of {summary.cases_seen} cases ({summary.photos} photos) of "
        f"{', '.join(summary.organizations)}"
    )
    for reason, n in sorted(summary.skipped.items()):
        click.echo(f"  skipped {n}: {reason}")
    split = ", ".join(f"{k} {v}" for k, v in sorted(summary.by_split.items())) or "none"
    click.echo(f"photos by split: {split}")
    click.echo(f"manifest {summary.out / 'manifest.csv'}\nsha256 {summary.manifest_sha256}")

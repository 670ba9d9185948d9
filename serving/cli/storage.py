"""What is kept at rest: ``secrets`` (the storage key: new-key, status, rotate-key, retire-old-keys),
``backup`` and ``restore``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from serving.cli.common import keyring, sessions, settings
from serving.encryption import Keyring, KeyringError, new_key
from serving.photos.backends import StoreMisconfigured, photo_store_from
from serving.storage.backup import BackupRefused, backup, restore
from serving.storage.rotation import RotationRefused, retire_old_keys, rotate_key, usage


def _refusals(step):
    """Run ``step()``; a refusal ends the command with its message."""
    try:
        return step()
    except (BackupRefused, RotationRefused, KeyringError, StoreMisconfigured) as exc:
        raise click.ClickException(str(exc)) from None


def store_of(config, keys: Keyring | None):
    """The configured photo store; settings that name none end the command."""
    return _refusals(lambda: photo_store_from(config, keyring=keys))


def _configured(config) -> Keyring:
    keys = keyring(config)
    if keys is None:
        raise click.ClickException(
            "no storage key is configured: set DERMATRIAGE_STORAGE_KEY (make one with "
            "`dermatriage secrets new-key`) or DERMATRIAGE_STORAGE_KEY_FILE"
        )
    return keys


@click.group("secrets")
def secrets_group() -> None:
    """The storage key that seals webhook secrets and encrypted photos."""


@secrets_group.command("new-key")
def secrets_new_key() -> None:
    """Print a new random storage key (base64), e.g. for DERMATRIAGE_STORAGE_KEY."""
    click.echo(new_key())


@secrets_group.command("status")
def secrets_status() -> None:
    """The keys (ids only) and what each one seals."""
    config = settings()
    keys = keyring(config)
    if keys is None:
        click.echo("no storage key: webhook secrets are kept in clear")
    else:
        click.echo(
            f"keys from {keys.source}: current {keys.current_id}; old: {', '.join(keys.ids[1:]) or 'none'}"
        )
    now = usage(sessions(config), store_of(config, keys))
    for what, counts in (("webhook secrets", now.secrets), ("photos", now.photos)):
        click.echo(f"{what}: " + (", ".join(f"{k} {n}" for k, n in sorted(counts.items())) or "none sealed"))


@secrets_group.command("rotate-key")
@click.option(
    "--new-key/--no-new-key",
    default=True,
    show_default=True,
    help="Put a new key first in the key file (with keys from the environment: --no-new-key, after "
    "setting the new key as DERMATRIAGE_STORAGE_KEY and the old one in DERMATRIAGE_STORAGE_OLD_KEYS).",
)
@click.option("--progress/--no-progress", default=sys.stderr.isatty(), help="A progress bar for photos.")
def secrets_rotate_key(new_key: bool, progress: bool) -> None:
    """Seal every webhook secret (clear ones too) and every encrypted photo under the current key.
    Then restart the service (it writes with the key it read at start) and run retire-old-keys."""
    config = settings()
    keys = _configured(config)
    database, store = sessions(config), store_of(config, keys)
    done = _refusals(lambda: rotate_key(database, store, keys, new_key=new_key, progress=progress))
    click.echo(
        f"current key {done.keyring.current_id}: {done.secrets.resealed} webhook secret(s) and "
        f"{done.photos} photo(s) sealed again; {done.secrets.current} secret(s) already under it"
    )
    if done.secrets.unreadable:
        raise click.ClickException(
            f"{len(done.secrets.unreadable)} webhook secret(s) are sealed under a key that is not configured "
            "(rotate those organizations' secrets: `dermatriage orgs webhook --rotate-secret`)"
        )
    click.echo("restart the service, then run `dermatriage secrets retire-old-keys`", err=True)


@secrets_group.command("retire-old-keys")
def secrets_retire_old_keys() -> None:
    """Drop the old keys from the key file, once nothing is sealed under them any more."""
    config = settings()
    keys = _configured(config)
    database, store = sessions(config), store_of(config, keys)
    retired = _refusals(lambda: retire_old_keys(database, store, keys))
    if keys.file is None:
        click.echo("nothing needs the old keys: remove DERMATRIAGE_STORAGE_OLD_KEYS")
    else:
        click.echo(f"{keys.file} keeps only the current key {retired.current_id}")


@click.command("backup")
@click.option("--to", "to", required=True, type=click.Path(path_type=Path), help="A new or empty folder.")
@click.option(
    "--without-key", is_flag=True, help="Leave the generated storage key out (keep it somewhere else)."
)
@click.option("--progress/--no-progress", default=sys.stderr.isatty(), help="A progress bar for photos.")
def backup_command(to: Path, without_key: bool, progress: bool) -> None:
    """Back up the SQLite database (online: the service may keep running) and every photo it names,
    with a manifest of row counts and SHA-256s. PostgreSQL: use pg_dump."""
    done = _refusals(lambda: backup(settings(), to, include_key=not without_key, progress=progress))
    click.echo(
        f"backed up {sum(done.tables.values())} row(s) in {len(done.tables)} table(s) and {done.objects} "
        f"photo object(s) ({done.bytes} bytes) to {done.directory}"
        + ("; the storage key is in it: keep the backup private" if done.key_included else "")
    )


@click.command("restore")
@click.option(
    "--from", "source", required=True, type=click.Path(path_type=Path, exists=True, file_okay=False)
)
@click.option("--force", is_flag=True, help="Restore over an existing database and photo store.")
@click.option("--progress/--no-progress", default=sys.stderr.isatty(), help="A progress bar for photos.")
def restore_command(source: Path, force: bool, progress: bool) -> None:
    """Restore a backup into the configured (empty) data folder; stop the service first."""
    done = _refusals(lambda: restore(settings(), source, force=force, progress=progress))
    click.echo(
        f"restored {sum(done.tables.values())} row(s) and {done.objects} photo object(s) "
        f"from {done.directory}"
    )

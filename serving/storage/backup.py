"""Backups of the embedded default (SQLite and the photo store) and restoring them.

**Consistent.** The database is copied first, with SQLite's online backup API in one step (a
snapshot: writers go on meanwhile, in WAL mode). Then every object the *copy* references is read from
the store and written to the backup, its SHA-256 checked against its key. Objects are written before
the rows that name them commit and are never removed while a row names them, so each one a
snapshot's row names is there to copy; objects of later requests are not copied (no row of the copy
names them). A backup is complete when ``manifest.json`` is written, last: the database's SHA-256 and
row counts per table, and each object's key, SHA-256 and size.

**Layout.** ``DIR/dermatriage.db``, ``DIR/photos/`` (a local folder; encrypted, under the same keys,
when the store is encrypted), ``DIR/storage.key`` (see below), ``DIR/manifest.json``.

**Keys.** A key generated beside the database (the embedded default) is part of the data folder and
is copied into the backup (``include_key=False`` leaves it out: keep it somewhere else). Keys from
``DERMATRIAGE_STORAGE_KEY`` or ``DERMATRIAGE_STORAGE_KEY_FILE`` are never copied: the manifest lists the
key ids the backup needs, and restoring refuses without them.

**PostgreSQL** is ``pg_dump``'s job (and an S3 bucket's, its versioning or replication): both commands
refuse it with a message saying so.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from tqdm import tqdm

from serving.encryption import (
    DEFAULT_KEY_FILE,
    Keyring,
    default_key_file,
    keyring_from,
    read_key_file,
    write_key_file,
)
from serving.events.secrets import secret_key_ids
from serving.photos.backends import photo_store_from
from serving.photos.local import DIR_MODE, FILE_MODE, LocalPhotoStore
from serving.photos.references import referenced_keys
from serving.photos.sealed import SealedPhotoStore
from serving.photos.store import PhotoStore, parse_key
from serving.settings import Settings

FORMAT = 1
DATABASE_FILE = "dermatriage.db"
PHOTOS_DIR = "photos"
MANIFEST = "manifest.json"


class BackupRefused(RuntimeError):
    """A backup or restore that cannot be done as asked (the message says what to do instead)."""


@dataclass(frozen=True)
class Outcome:
    directory: Path
    tables: dict[str, int]
    objects: int
    bytes: int
    key_included: bool


def _sqlite_path(settings: Settings, *, doing: str) -> Path:
    if not settings.is_sqlite:
        raise BackupRefused(
            f"{doing} covers the embedded SQLite database only; with PostgreSQL use pg_dump / pg_restore "
            "(and your object store's own versioning or replication for the photos)"
        )
    database = make_url(settings.database_url).database
    if not database or database == ":memory:":
        raise BackupRefused(f"{doing} needs an SQLite database file, not {settings.database_url!r}")
    return Path(database)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _row_counts(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}


def _snapshot(source: Path, target: Path) -> None:
    """The database at one moment, copied with the online backup API, into a single file."""
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # pages=-1: in one step, so it is a snapshot (no restart by concurrent writers)
        dst.execute("PRAGMA journal_mode=DELETE")  # a self-contained file, no -wal beside it
    finally:
        dst.close()
        src.close()
    os.chmod(target, FILE_MODE)


def _in_database(database: Path) -> tuple[set[str], dict[str, int]]:
    """The store keys the database's rows name, and its webhook secrets per key id."""
    engine = create_engine(f"sqlite:///{database}")
    try:
        with Session(engine) as session:
            return referenced_keys(session), dict(secret_key_ids(session))
    finally:
        engine.dispose()


def _copy(
    keys: Iterable[str], source: PhotoStore, target: PhotoStore, *, total: int, progress: bool
) -> tuple[list[dict], int]:
    """Copy ``keys`` (checking each SHA-256); their manifest entries and the bytes copied."""
    entries, copied = [], 0
    bar = tqdm(total=total, desc="photos", unit="obj", disable=not progress, file=sys.stderr)
    with bar:
        for key in keys:
            try:
                content = source.read(key)
            except FileNotFoundError:
                raise BackupRefused(
                    f"object {key} is named by the database but missing from {source.location}"
                ) from None
            sha256, suffix = parse_key(key)
            target.put(content, sha256=sha256, suffix=suffix)  # ValueError if the bytes are not the key's
            entries.append({"key": key, "sha256": sha256, "bytes": len(content)})
            copied += len(content)
            bar.update(1)
    return entries, copied


def _is_empty_dir(path: Path) -> bool:
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


def _backup_store(directory: Path, source: PhotoStore, keyring: Keyring | None) -> PhotoStore:
    """The backup's folder: encrypted like the source, under the same keys."""
    if isinstance(source, SealedPhotoStore) and keyring is not None:
        return SealedPhotoStore(directory / PHOTOS_DIR, keyring)
    return LocalPhotoStore(directory / PHOTOS_DIR)


def backup(settings: Settings, to: Path, *, include_key: bool = True, progress: bool = False) -> Outcome:
    """Back up the database of ``settings`` and the objects its rows name into the empty folder ``to``."""
    database = _sqlite_path(settings, doing="dermatriage backup")
    if not database.is_file():
        raise BackupRefused(f"there is no database at {database} to back up")
    if not _is_empty_dir(to):
        raise BackupRefused(f"{to} is not empty; back up into a new folder")
    keyring = keyring_from(settings)
    store = photo_store_from(settings, keyring=keyring)
    to.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(to, DIR_MODE)

    _snapshot(database, to / DATABASE_FILE)
    keys, secrets = _in_database(to / DATABASE_FILE)
    target = _backup_store(to, store, keyring)
    objects, copied = _copy(sorted(keys), store, target, total=len(keys), progress=progress)

    generated = default_key_file(settings)
    key_included = bool(
        include_key and keyring is not None and keyring.file is not None and keyring.file == generated
    )
    if key_included:
        shutil.copyfile(keyring.file, to / DEFAULT_KEY_FILE)
        os.chmod(to / DEFAULT_KEY_FILE, FILE_MODE)
    tables = _row_counts(to / DATABASE_FILE)
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "database": {
            "file": DATABASE_FILE,
            "sha256": _sha256(to / DATABASE_FILE),
            "bytes": (to / DATABASE_FILE).stat().st_size,
            "tables": tables,
        },
        "photos": {
            "folder": PHOTOS_DIR,
            "encrypted": isinstance(target, SealedPhotoStore),
            "count": len(objects),
            "bytes": copied,
            "objects": objects,
        },
        "keys": {
            "included": key_included,
            "needed": sorted({k for k in secrets if k != "clear"} | _photo_key_ids(target)),
        },
    }
    _write_json(to / MANIFEST, manifest)
    return Outcome(directory=to, tables=tables, objects=len(objects), bytes=copied, key_included=key_included)


def _photo_key_ids(store: PhotoStore) -> set[str]:
    return set(store.key_ids()) - {"plain"} if isinstance(store, SealedPhotoStore) else set()


def _write_json(path: Path, document: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(document, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, path)


def read_manifest(directory: Path) -> dict:
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupRefused(f"{directory} has no {MANIFEST}: not a backup, or an unfinished one") from None
    if manifest.get("format") != FORMAT:
        raise BackupRefused(
            f"{directory}: backup format {manifest.get('format')!r}; this version reads {FORMAT}"
        )
    database = directory / manifest["database"]["file"]
    if not database.is_file() or _sha256(database) != manifest["database"]["sha256"]:
        raise BackupRefused(f"{database} is missing or not the file the manifest describes")
    return manifest


def _store_is_empty(settings: Settings) -> bool:
    """Whether the store of ``settings`` holds nothing (asked before any key is needed)."""
    if settings.photo_store == "local":
        return not any(p.is_file() for p in settings.photo_dir.rglob("*"))
    return next(iter(photo_store_from(settings, keyring=None).iter_keys()), None) is None


def _keys_missing(ids: set[str]) -> BackupRefused:
    return BackupRefused(
        f"the backup is sealed under key id(s) {', '.join(sorted(ids))}, which the configured keys do not "
        "have; set them (DERMATRIAGE_STORAGE_KEY and DERMATRIAGE_STORAGE_OLD_KEYS, or "
        "DERMATRIAGE_STORAGE_KEY_FILE)"
    )


def _target_keyring(settings: Settings, source: Path, manifest: dict, *, force: bool) -> Keyring | None:
    """The target's keyring. With no key configured there, the key included in the backup becomes the
    target's generated key (with ``force`` over another one, which stays as an old key: what it
    sealed still opens). Refused, before anything is written, when the backup's keys are missing."""
    generated = default_key_file(settings)
    configured = settings.storage_key is not None or settings.storage_key_file is not None
    needed = set(manifest["keys"]["needed"])
    if not configured and generated is not None:
        if manifest["keys"]["included"]:
            included = read_key_file(source / DEFAULT_KEY_FILE)
            if generated.exists():
                present = read_key_file(generated)
                if present.keys != included.keys and not force:
                    raise BackupRefused(f"{generated} holds another storage key; --force to add the backup's")
                included = Keyring(
                    keys=(*included.keys, *(k for k in present.keys if k not in included.keys)), source=""
                )
            write_key_file(included, generated)
        elif needed and not generated.exists():  # a key generated now would not open the backup
            raise _keys_missing(needed)
    keyring = keyring_from(settings)
    missing = needed - set(keyring.ids if keyring else [])
    if missing:
        raise _keys_missing(missing)
    return keyring


def restore(settings: Settings, source: Path, *, force: bool = False, progress: bool = False) -> Outcome:
    """Restore the backup in ``source`` into the empty database and photo store of ``settings``
    (``force``: over what is there). Photos first, the database last, so an interrupted restore never
    leaves a database whose rows name missing objects."""
    database = _sqlite_path(settings, doing="dermatriage restore")
    manifest = read_manifest(source)
    if database.exists() and database.stat().st_size > 0 and not force:
        raise BackupRefused(f"{database} exists; restore into an empty data folder, or --force to replace it")
    if not force and not _store_is_empty(settings):
        raise BackupRefused("the photo store is not empty; restore into an empty one, or --force")
    keyring = _target_keyring(settings, source, manifest, force=force)
    target = photo_store_from(settings, keyring=keyring)

    photos = manifest["photos"]
    if photos["encrypted"]:
        own = read_key_file(source / DEFAULT_KEY_FILE) if manifest["keys"]["included"] else keyring
        backup_store: PhotoStore = SealedPhotoStore(source / photos["folder"], own)
    else:
        backup_store = LocalPhotoStore(source / photos["folder"])
    keys = [entry["key"] for entry in photos["objects"]]
    _, copied = _copy(keys, backup_store, target, total=len(keys), progress=progress)

    database.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=database.parent, prefix=".tmp-", suffix=".db")
    os.close(fd)
    shutil.copyfile(source / manifest["database"]["file"], tmp)
    os.chmod(tmp, FILE_MODE)
    for stale in (Path(f"{database}-wal"), Path(f"{database}-shm")):
        stale.unlink(missing_ok=True)  # of the database replaced (--force): never applied to the new one
    os.replace(tmp, database)
    tables = _row_counts(database)
    if tables != manifest["database"]["tables"]:
        raise BackupRefused(f"the restored database's row counts differ from the manifest: {tables}")
    return Outcome(
        directory=source,
        tables=tables,
        objects=len(keys),
        bytes=copied,
        key_included=manifest["keys"]["included"],
    )

"""``dermatriage backup`` and ``restore``: a backup taken while a case is being submitted is
consistent (every photo row of the backed-up database has its object, checked against its SHA-256),
restores into an empty folder with the same rows and the same photo bytes, and the service starts on
the restored folder and serves a case. Refusals: a non-empty target, a missing key, PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import cli_runner, make_org, service_settings
from consults_support import QUESTIONNAIRE
from factories import good_jpeg
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from serving.app import create_app
from serving.cases import intake
from serving.cli import main
from serving.db import make_engine, make_session_factory
from serving.encryption import DEFAULT_KEY_FILE, keyring_from
from serving.events.secrets import open_secret
from serving.photos.backends import photo_store_from
from serving.photos.files import store_photos
from serving.photos.references import referenced_keys
from serving.photos.store import parse_key


def folder_settings(folder: Path, *, encrypted: bool, **overrides):
    settings = service_settings(
        f"sqlite:///{folder / 'dermatriage.db'}", folder / "photos", photo_encryption=encrypted, **overrides
    )
    return settings.model_copy(update={"migrate_on_start": True})


def env_of(folder: Path, *, encrypted: bool) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{folder / 'dermatriage.db'}",
        "DERMATRIAGE_PHOTO_DIR": str(folder / "photos"),
        "DERMATRIAGE_PHOTO_ENCRYPTION": str(encrypted).lower(),
    }


def submit(client: TestClient, org, seed: int) -> str:
    r = client.post(
        "/v1/cases",
        data={"questionnaire": json.dumps(QUESTIONNAIRE)},
        files=[("photos", (f"{seed}.jpg", good_jpeg(seed=seed), "image/jpeg"))],
        headers=org.headers("intake", **{"Idempotency-Key": str(uuid.uuid4())}),
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def rows(database: Path) -> dict[str, list[tuple]]:
    """Every row of every table, in a stable order."""
    with sqlite3.connect(database) as conn:
        tables = [
            n
            for (n,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}


def keys_named_by(database: Path) -> set[str]:
    engine = create_engine(f"sqlite:///{database}")
    with Session(engine) as session:
        keys = referenced_keys(session)
    engine.dispose()
    return keys


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_backup_during_a_submission_then_restore_into_an_empty_folder(
    tmp_path: Path, encrypted: bool, monkeypatch: pytest.MonkeyPatch
):
    live, backup_dir, restored = tmp_path / "live", tmp_path / "backup", tmp_path / "restored"
    settings = folder_settings(live, encrypted=encrypted)
    with TestClient(create_app(settings)) as client:
        engine = make_engine(settings.database_url)
        org = make_org(make_session_factory(engine))
        hook = client.put(
            "/v1/webhook", json={"url": "https://intake.example/hooks"}, headers=org.headers("admin")
        )
        secret = hook.json()["secret"]
        before = [submit(client, org, seed) for seed in range(3)]
        shown = client.get(f"/v1/cases/{before[0]}", headers=org.headers()).json()
        image_before = client.get(shown["photos"][0]["image_url"], headers=org.headers()).content
        # a submission whose photos are stored, its rows not committed yet, while the backup runs
        written, backed_up_now, in_flight = threading.Event(), threading.Event(), []

        def store_then_wait(store, photos):
            stored = store_photos(store, photos)
            in_flight.extend(key for pair in stored.keys for key in pair)
            written.set()
            assert backed_up_now.wait(60)
            return stored

        monkeypatch.setattr(intake, "store_photos", store_then_wait)
        during = threading.Thread(target=submit, args=(client, org, 10))
        during.start()
        assert written.wait(60)
        out = cli_runner(env_of(live, encrypted=encrypted))("backup", "--to", str(backup_dir)).stdout
        backed_up_now.set()
        during.join()
        engine.dispose()
    assert "the storage key is in it" in out

    manifest = json.loads((backup_dir / "manifest.json").read_text())
    backed_up = keys_named_by(backup_dir / "dermatriage.db")
    assert {o["key"] for o in manifest["photos"]["objects"]} == backed_up  # every row's object, no other
    assert manifest["database"]["tables"]["cases"] == 3 and not set(in_flight) & backed_up
    assert manifest["photos"]["encrypted"] is encrypted and manifest["keys"]["included"] is True
    assert manifest["photos"]["count"] == len(backed_up) == 6  # 3 photos and their thumbnails
    live_keys = keyring_from(settings)
    live_store = photo_store_from(settings, keyring=live_keys)
    raw = b"".join(p.read_bytes() for p in (backup_dir / "photos").rglob("*") if p.is_file())
    assert all((live_store.read(key) in raw) is not encrypted for key in backed_up)  # encrypted stays so

    cli_runner(env_of(restored, encrypted=encrypted))("restore", "--from", str(backup_dir))
    target = folder_settings(restored, encrypted=encrypted)
    assert rows(restored / "dermatriage.db") == rows(backup_dir / "dermatriage.db")
    live_rows = rows(live / "dermatriage.db")
    for table, restored_rows in rows(restored / "dermatriage.db").items():
        assert set(restored_rows) <= set(live_rows[table]), table  # the live data at one moment
    target_store = photo_store_from(target, keyring=keyring_from(target))
    assert sorted(target_store.iter_keys()) == sorted(backed_up)
    for key in backed_up:
        content = target_store.read(key)
        assert content == live_store.read(key) and parse_key(key)[0] == hashlib.sha256(content).hexdigest()

    with TestClient(create_app(target)) as client:
        case = client.get(f"/v1/cases/{before[0]}", headers=org.headers())
        assert case.status_code == 200 and case.json()["id"] == before[0]
        image = client.get(case.json()["photos"][0]["image_url"], headers=org.headers())
        assert image.status_code == 200 and image.content == image_before
        with make_session_factory(client.app.state.engine)() as session:
            stored = session.execute(
                text("SELECT webhook_secret FROM organizations WHERE id = :i"),
                {"i": org.org_id},
            ).scalar_one()
        assert open_secret(keyring_from(target), org.org_id, stored) == secret  # the key came with the backup

    again = CliRunner().invoke(
        main, ["restore", "--from", str(backup_dir)], env=env_of(restored, encrypted=encrypted)
    )
    assert again.exit_code != 0 and "restore into an empty data folder, or --force" in again.output
    cli_runner(env_of(restored, encrypted=encrypted))("restore", "--from", str(backup_dir), "--force")
    assert rows(restored / "dermatriage.db") == rows(backup_dir / "dermatriage.db")


def test_a_backup_without_its_key_needs_the_key_to_restore(tmp_path: Path):
    live, backup_dir = tmp_path / "live", tmp_path / "backup"
    settings = folder_settings(live, encrypted=True)
    with TestClient(create_app(settings)) as client:
        engine = make_engine(settings.database_url)
        org = make_org(make_session_factory(engine))
        submit(client, org, 1)
        engine.dispose()
    run = cli_runner(env_of(live, encrypted=True))
    run("backup", "--to", str(backup_dir), "--without-key")
    assert not (backup_dir / DEFAULT_KEY_FILE).exists()
    refused = CliRunner().invoke(main, ["backup", "--to", str(backup_dir)], env=env_of(live, encrypted=True))
    assert refused.exit_code != 0 and "not empty" in refused.output

    target = tmp_path / "restored"
    keyless = CliRunner().invoke(
        main, ["restore", "--from", str(backup_dir)], env=env_of(target, encrypted=True)
    )
    assert keyless.exit_code != 0 and "sealed under key id" in keyless.output
    assert not (target / "dermatriage.db").exists()
    with_key = {
        **env_of(target, encrypted=True),
        "DERMATRIAGE_STORAGE_KEY_FILE": str(live / DEFAULT_KEY_FILE),
    }
    assert not (target / DEFAULT_KEY_FILE).exists()  # the refused attempt made no key of its own
    cli_runner(with_key)("restore", "--from", str(backup_dir))
    assert rows(target / "dermatriage.db") == rows(backup_dir / "dermatriage.db")


def test_postgresql_is_pg_dumps_job(tmp_path: Path, postgres_url: str):
    for command_line in (["backup", "--to", str(tmp_path / "b")], ["restore", "--from", str(tmp_path)]):
        result = CliRunner().invoke(main, command_line, env={"DATABASE_URL": postgres_url})
        assert result.exit_code != 0 and "pg_dump" in result.output

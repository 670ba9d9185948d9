"""The storage key over time: migration 0008 seals the webhook secrets it finds in clear, and
``dermatriage secrets rotate-key`` seals every secret and encrypted photo again under a new key, after
which ``retire-old-keys`` drops the old one (refused while anything still needs it)."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner
from conftest import cli_runner
from sqlalchemy import text
from test_webhook_secrets import emit_one, keyed_sessions, stored_secret
from webhook_receiver import WebhookReceiver

from serving.cli import main
from serving.db import make_engine, make_session_factory, transaction
from serving.encryption import DEFAULT_KEY_FILE, Keyring, new_key, read_key_file, text_key_id
from serving.events.secrets import open_secret
from serving.events.service import set_webhook
from serving.migrations import alembic_config, upgrade
from serving.orgs.models import Organization
from serving.photos.sealed import SealedPhotoStore


def test_migration_0008_seals_the_secrets_it_finds_in_clear(tmp_path: Path):
    keys = Keyring(keys=(os.urandom(32),), source="test")
    for name, keyring in (("sealed", keys), ("no-key", None)):
        url = f"sqlite:///{tmp_path / name}.db"
        upgrade(url, "0007")
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO organizations (id, slug, name, webhook_url, webhook_secret, created_at) "
                    "VALUES ('o1', 'o1', 'O1', 'https://a.example/h', 'whsec_clear', CURRENT_TIMESTAMP)"
                )
            )
        upgrade(url, keyring=keyring)
        stored = stored_secret(make_session_factory(engine), "o1")
        if keyring is None:
            assert stored == "whsec_clear"  # no key: kept in clear (and the service warns)
        else:
            assert stored.startswith("sealed:v1:") and text_key_id(stored) == keys.current_id
            assert open_secret(keys, "o1", stored) == "whsec_clear"
            with engine.connect() as conn:
                command.downgrade(alembic_config(conn, keys), "0007")
                conn.commit()
            assert stored_secret(make_session_factory(engine), "o1") == "whsec_clear"
        engine.dispose()


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def test_rotate_key_reseals_secrets_and_photos_and_the_old_key_retires(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'data' / 'dermatriage.db'}"
    env = {
        "DATABASE_URL": url,
        "DERMATRIAGE_PHOTO_DIR": str(tmp_path / "photos"),
        "DERMATRIAGE_PHOTO_ENCRYPTION": "1",
    }
    run = cli_runner(env)
    receiver = WebhookReceiver().start()
    try:
        run("orgs", "create", "--slug", "north")
        run("orgs", "create", "--slug", "south")
        secret = run(
            "orgs", "webhook", "--org", "north", "--url", f"{receiver.base_url}/hooks/north"
        ).stdout.strip()
        receiver.add_secret("north", secret)
        key_file = tmp_path / "data" / DEFAULT_KEY_FILE
        first = read_key_file(key_file)
        photos = SealedPhotoStore(tmp_path / "photos", first)
        keys = [photos.put(c, sha256=sha(c), suffix="jpg")[0] for c in (b"one", b"two")]
        engine = make_engine(url)
        database = make_session_factory(engine)
        with transaction(database) as session:
            north = session.query(Organization).filter_by(slug="north").one().id
            south = session.query(Organization).filter_by(slug="south").one().id
        assert text_key_id(stored_secret(database, north)) == first.current_id

        out = run("secrets", "rotate-key").stdout
        second = read_key_file(key_file)
        assert (
            second.ids == [second.current_id, first.current_id]
            and "1 webhook secret(s) and 2 photo(s)" in out
        )
        assert text_key_id(stored_secret(database, north)) == second.current_id
        assert SealedPhotoStore(tmp_path / "photos", second).key_ids() == {second.current_id: 2}

        # a process still running with the old keyring writes a secret: the old key may not go yet
        with keyed_sessions(url, first) as factory, transaction(factory) as session:
            set_webhook(session, org=session.get(Organization, south), url=f"{receiver.base_url}/hooks/south")
        refused = CliRunner().invoke(main, ["secrets", "retire-old-keys"], env=env)
        assert refused.exit_code != 0 and first.current_id in refused.output
        run("secrets", "rotate-key", "--no-new-key")
        assert "keeps only the current key" in run("secrets", "retire-old-keys").stdout
        assert read_key_file(key_file).ids == [second.current_id]
        status = run("secrets", "status").stdout
        assert (
            f"webhook secrets: {second.current_id} 2" in status and f"photos: {second.current_id} 2" in status
        )

        retired = SealedPhotoStore(tmp_path / "photos", read_key_file(key_file))
        assert [retired.read(k) for k in keys] == [b"one", b"two"]
        emit_one(database, north)
        assert "1 event(s) delivered" in run("worker", "--once").stdout
        assert [d.signature_valid for d in receiver.deliveries() if d.path == "/hooks/north"] == [True]
        engine.dispose()
    finally:
        receiver.stop()


def test_keys_from_the_environment_rotate_too_and_clear_secrets_get_sealed(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    old, new = new_key(), new_key()
    run_old = cli_runner({"DATABASE_URL": url, "DERMATRIAGE_STORAGE_KEY": old})
    run_old("orgs", "create", "--slug", "east")
    run_old("orgs", "webhook", "--org", "east", "--url", "https://east.example/hooks")
    engine = make_engine(url)
    database = make_session_factory(engine)
    with transaction(database) as session:
        east = session.query(Organization).filter_by(slug="east").one()
        east_id = east.id
        session.add(
            Organization(
                slug="west", name="West", webhook_url="https://w.example/h", webhook_secret="whsec_w"
            )
        )

    rotating = {"DATABASE_URL": url, "DERMATRIAGE_STORAGE_KEY": new, "DERMATRIAGE_STORAGE_OLD_KEYS": old}
    refused = CliRunner().invoke(main, ["secrets", "rotate-key"], env=rotating)
    assert refused.exit_code != 0 and "DERMATRIAGE_STORAGE_OLD_KEYS" in refused.output
    out = cli_runner(rotating)("secrets", "rotate-key", "--no-new-key").stdout
    assert "2 webhook secret(s)" in out  # east re-sealed, west sealed for the first time
    new_keys = Keyring(keys=(base64.b64decode(new),), source="new")
    assert text_key_id(stored_secret(database, east_id)) == new_keys.current_id
    assert "remove DERMATRIAGE_STORAGE_OLD_KEYS" in cli_runner(rotating)("secrets", "retire-old-keys").stdout
    status = cli_runner({"DATABASE_URL": url, "DERMATRIAGE_STORAGE_KEY": new})("secrets", "status").stdout
    assert f"webhook secrets: {new_keys.current_id} 2" in status
    engine.dispose()


@pytest.mark.parametrize("command_line", [["secrets", "rotate-key"], ["secrets", "retire-old-keys"]])
def test_rotation_needs_a_key(command_line, postgres_url):
    result = CliRunner().invoke(main, command_line, env={"DATABASE_URL": postgres_url})
    assert result.exit_code != 0 and "no storage key is configured" in result.output

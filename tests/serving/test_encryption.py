"""Encryption at rest: the keyring (where keys come from, sealing, key ids, failures that are errors
and never garbage) and the encrypted local photo store (names that say nothing, rotation)."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import stat
from pathlib import Path

import pytest

from serving.encryption import (
    DEFAULT_KEY_FILE,
    Keyring,
    KeyringError,
    StorageKeyRequired,
    Undecryptable,
    keyring_from,
    new_key,
    open_text,
    read_key_file,
    seal_text,
    text_key_id,
    write_key_file,
)
from serving.photos.local import LocalPhotoStore
from serving.photos.sealed import SEALED_DIR, SealedPhotoStore
from serving.settings import Settings

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def ring(*keys: bytes) -> Keyring:
    return Keyring(keys=keys or (os.urandom(32),), source="test")


# -- the keyring ----------------------------------------------------------------------------------


def test_sealed_bytes_open_only_with_their_key_and_context() -> None:
    keys = ring()
    sealed = keys.seal(b"whsec_abc", context=b"org-1")
    assert b"whsec_abc" not in sealed and keys.open(sealed, context=b"org-1") == b"whsec_abc"
    assert keys.seal(b"whsec_abc", context=b"org-1") != sealed  # a random nonce each time
    with pytest.raises(Undecryptable, match="authentication failed"):
        keys.open(sealed, context=b"org-2")  # copied to another organization's row
    tampered = bytearray(sealed)
    tampered[-1] ^= 1
    with pytest.raises(Undecryptable, match="authentication failed"):
        keys.open(bytes(tampered), context=b"org-1")
    with pytest.raises(Undecryptable, match="not in the keyring"):
        ring().open(sealed, context=b"org-1")


def test_old_keys_open_and_the_current_key_seals() -> None:
    old, new = os.urandom(32), os.urandom(32)
    sealed_before = seal_text(ring(old), "whsec_x", context="c")
    rotated = ring(old).rotated(new)
    assert rotated.ids[0] == rotated.current_id != text_key_id(sealed_before) == rotated.ids[1]
    assert open_text(rotated, sealed_before, context="c") == "whsec_x"
    assert text_key_id(seal_text(rotated, "whsec_x", context="c")) == rotated.current_id
    assert rotated.retired(keep=set()).ids == [rotated.current_id]
    assert open_text(None, "whsec_clear", context="c") == "whsec_clear"  # kept before a key was set
    with pytest.raises(Undecryptable):
        open_text(None, sealed_before, context="c")


@pytest.mark.parametrize("bad", ["", "not base64!", base64.b64encode(b"short").decode()])
def test_a_malformed_key_is_refused(bad: str) -> None:
    with pytest.raises(KeyringError, match="32 random bytes"):
        keyring_from(Settings(database_url=PG, storage_key=bad))


def test_keys_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    current, old = new_key(), new_key()
    monkeypatch.setenv("DERMATRIAGE_STORAGE_KEY", current)
    monkeypatch.setenv("DERMATRIAGE_STORAGE_OLD_KEYS", f" {old} ,")
    keys = keyring_from(Settings(database_url=PG))
    assert keys.keys == (base64.b64decode(current), base64.b64decode(old)) and keys.file is None
    assert current not in repr(Settings(database_url=PG))  # never shown in logs or tracebacks


def test_keys_from_a_file(tmp_path: Path) -> None:
    keys = ring(os.urandom(32), os.urandom(32))
    path = tmp_path / "keys"
    write_key_file(keys, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = keyring_from(Settings(database_url=PG, storage_key_file=path))
    assert loaded.keys == keys.keys and loaded.file == path
    with pytest.raises(KeyringError, match="not both"):
        keyring_from(Settings(database_url=PG, storage_key_file=path, storage_key=new_key()))
    with pytest.raises(KeyringError, match="cannot read"):
        read_key_file(tmp_path / "missing")


def test_sqlite_generates_its_key_once_beside_the_database(tmp_path: Path, caplog) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'data' / 'dermatriage.db'}")
    with caplog.at_level(logging.WARNING, logger="dermatriage.encryption"):
        first = keyring_from(settings)
    generated = tmp_path / "data" / DEFAULT_KEY_FILE
    assert first.file == generated and stat.S_IMODE(generated.stat().st_mode) == 0o600
    assert "generated the storage key" in caplog.text
    assert keyring_from(settings).keys == first.keys  # read back, not made again


def test_postgresql_without_a_key_keeps_secrets_in_clear_with_a_warning_and_production_refuses(
    caplog,
) -> None:
    with caplog.at_level(logging.WARNING, logger="dermatriage.encryption"):
        assert keyring_from(Settings(database_url=PG)) is None
    assert "stored in clear" in caplog.text
    with pytest.raises(StorageKeyRequired, match="DERMATRIAGE_STORAGE_KEY"):
        keyring_from(Settings(database_url=PG, environment="production"))


# -- the encrypted photo folder --------------------------------------------------------------------


def test_encrypted_objects_hide_their_content_and_their_hash(tmp_path: Path) -> None:
    store = SealedPhotoStore(tmp_path / "photos", ring())
    content = b"\xff\xd8\xff a patient's photo"
    key, created = store.put(content, sha256=sha(content), suffix="jpg")
    assert created and store.read(key) == content
    (path,) = [p for p in store.root.rglob("*") if p.is_file()]
    assert path.relative_to(store.root).parts[0] == SEALED_DIR
    raw = path.read_bytes()
    assert content not in raw and sha(content) not in str(path) and sha(content).encode() not in raw
    assert key.encode() not in raw and path.name == path.parent.parent.name + path.parent.name + path.name[4:]
    # the same photo in another deployment (another key) gets another name
    other = SealedPhotoStore(tmp_path / "other", ring())
    other.put(content, sha256=sha(content), suffix="jpg")
    assert [p.name for p in other.root.rglob("*") if p.is_file()] != [path.name]


def test_a_changed_or_moved_file_is_an_error_not_garbage(tmp_path: Path) -> None:
    store = SealedPhotoStore(tmp_path / "photos", ring())
    k1, _ = store.put(b"first", sha256=sha(b"first"), suffix="jpg")
    k2, _ = store.put(b"second", sha256=sha(b"second"), suffix="jpg")
    p1 = store._found(k1)
    p2 = store._found(k2)
    data = bytearray(p1.read_bytes())
    data[-3] ^= 0xFF
    p1.write_bytes(bytes(data))
    with pytest.raises(Undecryptable):
        store.read(k1)
    p1.write_bytes(p2.read_bytes())  # another object's file under this name
    with pytest.raises(Undecryptable, match="another object"):
        store.read(k1)
    with pytest.raises(FileNotFoundError):
        SealedPhotoStore(store.root, ring()).read(k2)  # without its key its name is not even known


def test_rotation_reseals_under_the_new_key_and_the_old_key_can_go(tmp_path: Path) -> None:
    old = ring()
    store = SealedPhotoStore(tmp_path / "photos", old)
    keys = [store.put(c, sha256=sha(c), suffix="jpg")[0] for c in (b"a", b"b", b"c")]
    rotated = SealedPhotoStore(store.root, old.rotated(os.urandom(32)))
    assert rotated.key_ids() == {old.current_id: 3}
    assert all(rotated.read(k) == c for k, c in zip(keys, (b"a", b"b", b"c"), strict=True))  # old key reads
    assert [rotated.reseal(k) for k in keys] == [True, True, True]
    assert [rotated.reseal(k) for k in keys] == [False, False, False]
    assert rotated.key_ids() == {rotated.keyring.current_id: 3}
    retired = SealedPhotoStore(store.root, rotated.keyring.retired(keep=set()))
    assert sorted(retired.iter_keys()) == sorted(keys)
    assert [retired.read(k) for k in keys] == [b"a", b"b", b"c"]
    assert len([p for p in store.root.rglob("*") if p.is_file()]) == 3  # the old files are gone


def test_plain_files_from_before_encryption_are_read_and_then_sealed(tmp_path: Path) -> None:
    plain = LocalPhotoStore(tmp_path / "photos")
    key, _ = plain.put(b"older", sha256=sha(b"older"), suffix="png")
    store = SealedPhotoStore(plain.root, ring())
    assert store.exists(key) and store.read(key) == b"older" and list(store.iter_keys()) == [key]
    assert store.put(b"older", sha256=sha(b"older"), suffix="png") == (key, False)
    assert store.key_ids() == {"plain": 1}
    assert store.reseal(key) and not plain.exists(key) and store.read(key) == b"older"
    assert store.key_ids() == {store.keyring.current_id: 1}


def test_the_sweep_lists_only_what_the_keyring_opens(tmp_path: Path, caplog) -> None:
    store = SealedPhotoStore(tmp_path / "photos", ring())
    key, _ = store.put(b"x", sha256=sha(b"x"), suffix="jpg")
    foreign = SealedPhotoStore(store.root, ring())
    foreign.put(b"y", sha256=sha(b"y"), suffix="jpg")
    (store.root / SEALED_DIR / "ab").mkdir()
    with caplog.at_level(logging.WARNING, logger="dermatriage.photos"):
        assert list(store.iter_keys()) == [key]  # never listed, so never swept as an orphan
    assert "not in the keyring" in caplog.text

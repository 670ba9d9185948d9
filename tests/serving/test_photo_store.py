"""The photo store: keys, integrity, idempotency, concurrent writers, listing and key safety on every
backend (the local folder, the encrypted folder, S3 over HTTP against moto's server); atomicity,
permissions and path traversal of the folder."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
from pathlib import Path

import pytest
from s3_server import s3_server_fixture  # noqa: F401 - the s3_server fixture

from serving.encryption import Keyring
from serving.photos.backends import photo_store_from
from serving.photos.local import LocalPhotoStore
from serving.photos.store import InvalidKey, PhotoStore, key_for
from serving.settings import Settings


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


BACKENDS = ["local", "encrypted", "s3"]


def backend(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> PhotoStore:
    """A store of kind ``name``, built as the service builds it (``photo_store_from``)."""
    options: dict = {"photo_dir": tmp_path / "photos"}
    if name == "encrypted":
        options["photo_encryption"] = True
    if name == "s3":
        options.update(request.getfixturevalue("s3_server").settings(s3_prefix="tenant-a/"))
    keyring = Keyring(keys=(os.urandom(32),), source="test")
    return photo_store_from(Settings(database_url="sqlite://", **options), keyring=keyring)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> PhotoStore:
    return backend(request.param, tmp_path, request)


@pytest.fixture
def local(tmp_path: Path) -> LocalPhotoStore:
    return LocalPhotoStore(tmp_path / "photos")


# -- every backend ----------------------------------------------------------------------------------


def test_put_read_exists_delete(store: PhotoStore) -> None:
    content = b"\xff\xd8\xff fake jpeg bytes"
    digest = sha(content)
    key, created = store.put(content, sha256=digest, suffix="jpg")
    assert key == f"{digest[:2]}/{digest[2:4]}/{digest}.jpg" == store.key_for(digest, "jpg")
    assert created is True
    assert store.exists(key) and store.read(key) == content
    assert abs(store.mtime(key) - time.time()) < 60

    store.delete(key)
    assert not store.exists(key)
    store.delete(key)  # missing: no error
    with pytest.raises(FileNotFoundError):
        store.read(key)
    with pytest.raises(FileNotFoundError):
        store.mtime(key)


def test_put_is_idempotent(store: PhotoStore) -> None:
    content = b"same bytes"
    first = store.put(content, sha256=sha(content), suffix=".jpg")  # a leading dot is accepted
    second = store.put(content, sha256=sha(content), suffix="jpg")
    assert first == (second[0], True) and second[1] is False
    assert list(store.iter_keys()) == [first[0]]


def test_photo_and_thumbnail_live_side_by_side(store: PhotoStore) -> None:
    photo, thumb = b"photo bytes", b"thumbnail bytes"
    k1, _ = store.put(photo, sha256=sha(photo), suffix="jpg")
    k2, _ = store.put(thumb, sha256=sha(thumb), suffix="jpg")
    assert k1 != k2 and sorted(store.iter_keys()) == sorted([k1, k2])
    png = b"png bytes"
    k3, _ = store.put(png, sha256=sha(png), suffix="png")
    assert k3.endswith(".png") and store.read(k3) == png
    assert sorted(store.iter_keys()) == sorted([k1, k2, k3])


def test_put_refuses_a_wrong_hash_or_suffix(store: PhotoStore) -> None:
    with pytest.raises(ValueError, match="does not match"):
        store.put(b"abc", sha256=sha(b"abd"), suffix="jpg")
    with pytest.raises(InvalidKey):
        store.put(b"abc", sha256="not-a-hash", suffix="jpg")
    for suffix in ("", "../x", "jp/g", "a" * 9):
        with pytest.raises(InvalidKey):
            store.put(b"abc", sha256=sha(b"abc"), suffix=suffix)
    assert list(store.iter_keys()) == []


def test_concurrent_puts_of_the_same_content_create_it_once(store: PhotoStore) -> None:
    content = os.urandom(256 * 1024)
    digest = sha(content)
    results: list[tuple[str, bool]] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        results.append(store.put(content, sha256=digest, suffix="jpg"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and len({k for k, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert store.read(results[0][0]) == content
    assert list(store.iter_keys()) == [results[0][0]]


BAD_KEYS = [
    "../etc/passwd",
    "/etc/passwd",
    "ab/cd/../../../../etc/passwd",
    "ab/cd/" + "0" * 64 + ".jpg",  # fan-out directories that do not match the hash
    "AB/CD/" + "ab" * 32 + ".jpg",
    "ab/cd/" + "abcd" + "0" * 60 + ".jpg/../x",
    "ab/cd/" + "abcd" + "0" * 60 + ".JPG",
    "ab/cd/" + "abcd" + "0" * 60 + ".jpg\x00",
    "ab\\cd\\" + "abcd" + "0" * 60 + ".jpg",
    "",
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_malformed_keys_are_refused(store: PhotoStore, key: str) -> None:
    for op in (store.read, store.exists, store.delete, store.mtime):
        with pytest.raises(InvalidKey):
            op(key)


def test_readiness(store: PhotoStore) -> None:
    assert store.writable()


# -- the local folder -------------------------------------------------------------------------------


def test_local_objects_are_files_at_their_keys(local: LocalPhotoStore) -> None:
    digest = sha(b"x")
    key, _ = local.put(b"x", sha256=digest, suffix="jpg")
    assert local.path(key) == local.root / digest[:2] / digest[2:4] / f"{digest}.jpg"
    assert local.path(key).read_bytes() == b"x"


def test_permissions(tmp_path: Path) -> None:
    old = os.umask(0)  # even with a permissive umask, files are 0600 and directories 0700
    try:
        store = LocalPhotoStore(tmp_path / "new-root")
        key, _ = store.put(b"x", sha256=sha(b"x"), suffix="jpg")
    finally:
        os.umask(old)
    path = store.path(key)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700 and mode(path.parent.parent) == 0o700
    assert mode(store.root) == 0o700


def test_write_failure_leaves_nothing(local: LocalPhotoStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_fsync(fd: int) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    content = b"important"
    with pytest.raises(OSError, match="disk on fire"):
        local.put(content, sha256=sha(content), suffix="jpg")
    monkeypatch.undo()
    key = key_for(sha(content), "jpg")
    assert not local.exists(key)
    leftovers = [p for p in local.root.rglob("*") if p.is_file()]
    assert leftovers == []  # no final object and no temporary file


def test_no_partial_object_is_ever_visible(local: LocalPhotoStore) -> None:
    content = os.urandom(1 << 20)
    key, _ = local.put(content, sha256=sha(content), suffix="jpg")
    assert local.read(key) == content
    directory = local.path(key).parent
    assert [p.name for p in directory.iterdir()] == [local.path(key).name]  # temp file gone


@pytest.mark.parametrize("key", BAD_KEYS)
def test_path_traversal_is_refused(local: LocalPhotoStore, key: str) -> None:
    with pytest.raises(InvalidKey):
        local.path(key)


def test_symlinked_directory_cannot_lead_outside(local: LocalPhotoStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    digest = sha(b"z")
    (local.root / digest[:2]).symlink_to(outside, target_is_directory=True)
    (outside / digest[2:4]).mkdir()
    with pytest.raises(InvalidKey, match="outside"):
        local.path(f"{digest[:2]}/{digest[2:4]}/{digest}.jpg")


def test_iter_keys_skips_temp_and_foreign_files(local: LocalPhotoStore) -> None:
    key, _ = local.put(b"a", sha256=sha(b"a"), suffix="jpg")
    directory = local.path(key).parent
    (directory / ".tmp-abc.part").write_bytes(b"partial")
    (directory / "README").write_text("not a photo")
    (local.root / "zz").mkdir()
    assert list(local.iter_keys()) == [key]
    assert local.sweep_temp_files(older_than_s=3600) == 0
    old = time.time() - 7200
    os.utime(directory / ".tmp-abc.part", (old, old))
    assert local.sweep_temp_files(older_than_s=3600) == 1
    assert not (directory / ".tmp-abc.part").exists()
    assert local.mtime(key) > old


def test_a_readiness_probe_killed_mid_write_leaves_nothing_after_the_sweep(local: LocalPhotoStore) -> None:
    probe = local.root / ".tmp-probe"  # what writable() creates at the root, left by a SIGKILL
    probe.write_bytes(b"")
    old = time.time() - 7200
    os.utime(probe, (old, old))
    assert local.writable()
    assert local.sweep_temp_files(older_than_s=3600) == 1
    assert not probe.exists()
    assert [p.name for p in local.root.iterdir() if p.name.startswith(".tmp-")] == []


def test_the_local_folder_is_not_writable_when_its_root_is_a_file(tmp_path: Path) -> None:
    store = LocalPhotoStore(tmp_path / "photos")
    store.root.rmdir()
    store.root.write_bytes(b"in the way")
    assert not store.writable()

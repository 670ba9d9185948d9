"""The photo store: what every backend does, and the keys that name objects.

An object's key is derived from the SHA-256 of its bytes: ``ab/cd/<sha256>.<suffix>``. The database
keeps keys of this form whatever the backend; photos and thumbnails each live under their own hash,
and identical uploads are stored once. Backends (``photo_store_from(settings)`` picks one):

* :class:`serving.photos.local.LocalPhotoStore`: a folder, the key its path (the default);
* :class:`serving.photos.sealed.SealedPhotoStore`: the folder with every object encrypted and named
  by HMAC (``photo_encryption``);
* :class:`serving.photos.s3.S3PhotoStore`: a bucket of any S3-compatible service.

Every backend gives the same guarantees, which one suite of tests checks on each:

* **Integrity**: ``put`` refuses content whose SHA-256 is not the given one.
* **Idempotent, whole objects**: a second ``put`` of the same content writes nothing and reports
  ``created=False`` (of concurrent writers exactly one reports ``True``); a reader never sees a
  partial object.
* **Deleting**: objects are shared by content, so a request whose transaction fails deletes only the
  objects it created itself and that no row references; a request that commits puts its objects again
  afterwards (a no-op unless a concurrent failure removed a shared one). For crashes between the
  write and the commit, the orphan sweep lists :meth:`PhotoStore.iter_keys`, subtracts the keys the
  database references and deletes what is left and older than a grace period (:meth:`PhotoStore.mtime`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Protocol

__all__ = ["InvalidKey", "PhotoStore", "check_content", "key_for", "parse_key"]

_SHA256 = re.compile(r"[0-9a-f]{64}")
_SUFFIX = re.compile(r"[a-z0-9]{1,8}")
_KEY = re.compile(r"([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})\.([a-z0-9]{1,8})")


class InvalidKey(ValueError):
    """A key that is not of the form ``ab/cd/<sha256>.<suffix>`` (or would leave the root)."""


def key_for(sha256: str, suffix: str) -> str:
    sha256 = sha256.lower()
    suffix = suffix.lower().lstrip(".")
    if not _SHA256.fullmatch(sha256):
        raise InvalidKey(f"not a hex SHA-256: {sha256!r}")
    if not _SUFFIX.fullmatch(suffix):
        raise InvalidKey(f"invalid suffix {suffix!r} (1-8 lowercase letters/digits)")
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}.{suffix}"


def parse_key(key: str) -> tuple[str, str]:
    """``(sha256, suffix)`` of a key of the exact form ``ab/cd/<sha256>.<suffix>``; InvalidKey else."""
    match = _KEY.fullmatch(key) if isinstance(key, str) else None
    if match is None or match[3][:2] != match[1] or match[3][2:4] != match[2]:
        raise InvalidKey(f"invalid photo key {key!r}")
    return match[3], match[4]


def is_key(key: str) -> bool:
    try:
        parse_key(key)
    except InvalidKey:
        return False
    return True


def check_content(content: bytes, sha256: str, suffix: str) -> str:
    """The key of ``content``, after checking that its SHA-256 is ``sha256`` (ValueError if not)."""
    key = key_for(sha256, suffix)
    actual = hashlib.sha256(content).hexdigest()
    if actual != sha256.lower():
        raise ValueError(f"content hash {actual} does not match the given sha256 {sha256}")
    return key


class PhotoStore(Protocol):
    """What intake, reads, the orphan sweep, backups and readiness use of a store."""

    #: where the objects are, for messages and logs (a folder, or s3://bucket/prefix)
    location: str

    @staticmethod
    def key_for(sha256: str, suffix: str) -> str: ...

    def put(self, content: bytes, *, sha256: str, suffix: str) -> tuple[str, bool]:
        """Store ``content`` under its hash. Returns ``(key, created)``; ``created`` is False when
        the object already existed (nothing is written then)."""
        ...

    def read(self, key: str) -> bytes:
        """The object's bytes; ``FileNotFoundError`` when there is none."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the object; no error if it is missing."""
        ...

    def mtime(self, key: str) -> float:
        """When the object was stored (seconds since the epoch), for the orphan sweep's grace period;
        ``FileNotFoundError`` when there is none."""
        ...

    def iter_keys(self) -> Iterator[str]:
        """Every stored key (temporary and foreign objects are skipped)."""
        ...

    def sweep_temp_files(self, older_than_s: float = 3600.0) -> int:
        """Remove what crashed writes left behind; returns how many were removed."""
        ...

    def writable(self) -> bool:
        """Whether objects can be written now (for readiness checks)."""
        ...

"""The local folder with every photo encrypted (``photo_encryption``): AES-256-GCM under the storage
key (:mod:`serving.encryption`).

**Names.** An object is not kept under its SHA-256: anyone holding a known photo could then confirm
it is stored here (that this person is a patient) by hashing it. Its file is named by an HMAC of
its key instead, ``sealed/ab/cd/<HMAC-SHA256(name key, key)>``, with a name key derived from the
storage key; without the key a name says nothing. The database keys keep their form
(``ab/cd/<sha256>.<suffix>``), so the rest of the service does not know whether photos are encrypted.

**File.** ``DTP1 | length of the sealed key (2 bytes) | sealed key | sealed content``; each sealed
part is ``key id | nonce | ciphertext and tag`` (a random nonce each) and the content is
authenticated together with its key, so a file copied under another name does not open. The sealed
key lets the orphan sweep list keys by reading only a file's first bytes.

**Keys rotate.** Writes use the current key (its name and its encryption); reads look under the name
each key of the keyring gives. :meth:`SealedPhotoStore.reseal` moves an object under the current key
(``dermatriage secrets rotate-key`` does it for all). Plain files of the same folder, written before
encryption was turned on, are still read, listed and deleted, and ``reseal`` encrypts them.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from serving.encryption import Keyring, Undecryptable, sealed_key_id
from serving.photos.local import LocalPhotoStore, ObjectFolder
from serving.photos.store import check_content, key_for, parse_key

log = logging.getLogger("dermatriage.photos")

MAGIC = b"DTP1"
SEALED_DIR = "sealed"
_NAME_CONTEXT = MAGIC + b" name"
_HEADER_MAX = 6 + 512


class SealedPhotoStore(ObjectFolder):
    key_for = staticmethod(key_for)

    def __init__(self, root: Path, keyring: Keyring) -> None:
        super().__init__(root)
        self.keyring = keyring
        self.plain = LocalPhotoStore(self.root)  # files written before encryption was turned on
        self.location = f"{self.root} (encrypted)"

    def _path(self, key: str, kid: str) -> Path:
        parse_key(key)
        name = hmac.new(self.keyring.names_key(kid), key.encode(), hashlib.sha256).hexdigest()
        return self.root / SEALED_DIR / name[:2] / name[2:4] / name

    def _found(self, key: str) -> Path | None:
        """The file holding ``key``: sealed under any key of the keyring, else plain; None if none."""
        for kid in self.keyring.ids:
            path = self._path(key, kid)
            if path.is_file():
                return path
        plain = self.plain.path(key)
        return plain if plain.is_file() else None

    def _seal(self, key: str, content: bytes) -> bytes:
        name = self.keyring.seal(key.encode(), context=_NAME_CONTEXT)
        body = self.keyring.seal(content, context=MAGIC + b" body " + key.encode())
        return MAGIC + len(name).to_bytes(2, "big") + name + body

    def _open(self, key: str, data: bytes) -> bytes:
        name, body = _split(data)
        if self.keyring.open(name, context=_NAME_CONTEXT) != key.encode():
            raise Undecryptable(f"the file found for {key} holds another object")
        return self.keyring.open(body, context=MAGIC + b" body " + key.encode())

    def put(self, content: bytes, *, sha256: str, suffix: str) -> tuple[str, bool]:
        key = check_content(content, sha256, suffix)
        if self._found(key) is not None:
            return key, False
        return key, self._write(self._path(key, self.keyring.current_id), self._seal(key, content))

    def read(self, key: str) -> bytes:
        """The object's clear bytes; FileNotFoundError when there is none, Undecryptable when it
        does not open (a key missing from the keyring, or a changed file)."""
        path = self._found(key)
        if path is None:
            raise FileNotFoundError(key)
        data = path.read_bytes()
        return data if path == self.plain.path(key) else self._open(key, data)

    def exists(self, key: str) -> bool:
        return self._found(key) is not None

    def delete(self, key: str) -> None:
        for kid in self.keyring.ids:
            self._path(key, kid).unlink(missing_ok=True)
        self.plain.delete(key)

    def mtime(self, key: str) -> float:
        path = self._found(key)
        if path is None:
            raise FileNotFoundError(key)
        return path.stat().st_mtime

    def _headers(self) -> Iterator[tuple[Path, bytes]]:
        """Each sealed file and its sealed key (files that are not sealed objects are skipped)."""
        for path in self._files(self.root / SEALED_DIR):
            with contextlib.suppress(OSError, ValueError), path.open("rb") as f:
                yield path, _split(f.read(_HEADER_MAX), header_only=True)[0]

    def iter_keys(self) -> Iterator[str]:
        """Every stored key: the sealed objects' (whose key is in the keyring), then plain files'."""
        seen = set()
        for path, name in self._headers():
            try:
                key = self.keyring.open(name, context=_NAME_CONTEXT).decode()
            except Undecryptable as exc:  # never listed, so never swept: it may be readable later
                log.warning("photo store: %s skipped: %s", path.name, exc)
                continue
            seen.add(key)
            yield key
        yield from (key for key in self.plain.iter_keys() if key not in seen)

    def key_ids(self) -> Counter[str]:
        """How many objects each key seals (``"plain"``: files not encrypted)."""
        counts = Counter(sealed_key_id(name) for _, name in self._headers())
        counts["plain"] += sum(1 for _ in self.plain.iter_keys())
        return +counts

    def reseal(self, key: str) -> bool:
        """Keep ``key`` under the current key (re-encrypting it, or encrypting a plain file): the new
        file is written before the old one is removed. Returns whether anything was rewritten."""
        current = self._path(key, self.keyring.current_id)
        if current.is_file():
            return False
        content = self.read(key)
        sha256, suffix = parse_key(key)
        check_content(content, sha256, suffix)
        self._write(current, self._seal(key, content))
        for kid in self.keyring.ids[1:]:
            self._path(key, kid).unlink(missing_ok=True)
        self.plain.delete(key)
        return True


def _split(data: bytes, *, header_only: bool = False) -> tuple[bytes, bytes]:
    """``(sealed key, sealed content)`` of a file's bytes; ValueError when they are not one."""
    if data[:4] != MAGIC or len(data) < 6:
        raise ValueError("not a sealed photo")
    end = 6 + int.from_bytes(data[4:6], "big")
    if len(data) < end or (not header_only and len(data) == end):
        raise Undecryptable("a truncated sealed photo")
    return data[6:end], data[end:]

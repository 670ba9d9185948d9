"""Encryption at rest: a keyring of AES-256-GCM keys, for webhook signing secrets and (optionally)
the photos of the local store.

* **Keys**: 32 random bytes, written in base64 (``dermatriage secrets new-key`` prints one). Each has
  an id, the first 8 bytes of SHA-256 over a fixed label and the key (nothing about the key can be
  learned from it), stored beside everything sealed under it, so keys can rotate: the keyring's
  first key seals, every key in it opens.
* **Where the keyring comes from** (``keyring_from(settings)``), the first that applies:

  1. ``DERMATRIAGE_STORAGE_KEY`` (the current key) and ``DERMATRIAGE_STORAGE_OLD_KEYS`` (older keys
     still read, comma-separated);
  2. ``DERMATRIAGE_STORAGE_KEY_FILE``: a file of keys, one base64 key a line, the current key first
     (``#`` comments allowed);
  3. with SQLite (the embedded default), ``storage.key`` beside the database file, generated once
     (``0600``) on first use: everything the service keeps is in that folder already, and the
     backup copies it with the database (``dermatriage backup``);
  4. otherwise (PostgreSQL with no key) none: webhook secrets are kept in clear and a warning says so
     at every start; with ``DERMATRIAGE_ENVIRONMENT=production`` the service refuses to start instead.
     Replicas must share one key, so none is generated for them.

* **Sealed bytes**: ``key id (8) | nonce (12, random) | AES-GCM ciphertext and tag``; the key id
  and a caller-given *context* (what the bytes are, e.g. whose secret) are authenticated with it,
  so a sealed value copied to another place does not open. A wrong key, a changed byte or another
  context raises :class:`Undecryptable`, never garbage.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from serving.settings import Settings

log = logging.getLogger("dermatriage.encryption")

KEY_BYTES = 32
KEY_ID_BYTES = 8
NONCE_BYTES = 12
TAG_BYTES = 16
OVERHEAD = KEY_ID_BYTES + NONCE_BYTES + TAG_BYTES
#: the key file generated beside an SQLite database when no key is configured
DEFAULT_KEY_FILE = "storage.key"
#: how sealed text starts (webhook secrets): a clear value never does
SEALED_TEXT_PREFIX = "sealed:v1:"


class KeyringError(RuntimeError):
    """The keys cannot be used as configured (a malformed key, a missing or unreadable file)."""


class Undecryptable(ValueError):
    """Sealed bytes that do not open: a key that is not in the keyring, or bytes that fail
    authentication (changed, truncated, sealed for another context or under another key)."""


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"dermatriage storage key id\0" + key).digest()[:KEY_ID_BYTES]


def new_key() -> str:
    """A fresh key, in base64."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def parse_key(text: str, *, where: str) -> bytes:
    """A base64 (standard or URL-safe) key of exactly 32 bytes; ``where`` names its source in errors."""
    text = text.strip()
    try:
        key = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise KeyringError(
            f"{where}: a storage key must be {KEY_BYTES} random bytes in base64 "
            "(make one with `dermatriage secrets new-key`)"
        )
    return key


@dataclass(frozen=True)
class Keyring:
    """The keys: ``keys[0]`` seals, every one opens. ``file`` is where they are kept when they come
    from a file (key rotation rewrites it); ``source`` says where they came from, for messages."""

    keys: tuple[bytes, ...]
    source: str
    file: Path | None = None
    _by_id: dict[bytes, AESGCM] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyringError(f"{self.source}: no key")
        object.__setattr__(self, "_by_id", {key_id(k): AESGCM(k) for k in self.keys})

    @property
    def current_id(self) -> str:
        return key_id(self.keys[0]).hex()

    @property
    def ids(self) -> list[str]:
        return [key_id(k).hex() for k in self.keys]

    def seal(self, plaintext: bytes, *, context: bytes) -> bytes:
        kid, nonce = key_id(self.keys[0]), os.urandom(NONCE_BYTES)
        return kid + nonce + self._by_id[kid].encrypt(nonce, plaintext, kid + context)

    def open(self, sealed: bytes, *, context: bytes) -> bytes:
        kid = sealed[:KEY_ID_BYTES]
        aead = self._by_id.get(kid)
        if aead is None:
            raise Undecryptable(
                f"sealed under key id {kid.hex()}, which is not in the keyring ({', '.join(self.ids)}; "
                f"from {self.source}); add that key as an old key"
            )
        nonce, body = sealed[KEY_ID_BYTES : KEY_ID_BYTES + NONCE_BYTES], sealed[KEY_ID_BYTES + NONCE_BYTES :]
        try:
            return aead.decrypt(nonce, body, kid + context)
        except InvalidTag:
            raise Undecryptable(f"authentication failed under key id {kid.hex()}") from None

    def names_key(self, kid: str) -> bytes:
        """A key derived from key ``kid`` for naming things by HMAC (not for encryption)."""
        return self._derived[kid]

    @cached_property
    def _derived(self) -> dict[str, bytes]:
        return {
            key_id(k).hex(): HKDF(hashes.SHA256(), KEY_BYTES, None, b"dermatriage object names v1").derive(k)
            for k in self.keys
        }

    def rotated(self, new: bytes) -> Keyring:
        """This keyring with ``new`` as its current key (the others still open)."""
        return Keyring(keys=(new, *(k for k in self.keys if k != new)), source=self.source, file=self.file)

    def retired(self, keep: set[str]) -> Keyring:
        """This keyring less every old key whose id is not in ``keep`` (the current key stays)."""
        kept = [k for k in self.keys[1:] if key_id(k).hex() in keep]
        return Keyring(keys=(self.keys[0], *kept), source=self.source, file=self.file)


def sealed_key_id(sealed: bytes) -> str:
    return sealed[:KEY_ID_BYTES].hex()


# -- sealed text (a value kept in a text column) ------------------------------------------------


def is_sealed_text(value: str) -> bool:
    return value.startswith(SEALED_TEXT_PREFIX)


def seal_text(keyring: Keyring, value: str, *, context: str) -> str:
    sealed = keyring.seal(value.encode(), context=context.encode())
    return SEALED_TEXT_PREFIX + base64.urlsafe_b64encode(sealed).decode()


def _sealed_bytes(value: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value[len(SEALED_TEXT_PREFIX) :].encode())
    except (binascii.Error, ValueError):
        raise Undecryptable("a sealed value that is not base64") from None


def open_text(keyring: Keyring | None, value: str, *, context: str) -> str:
    """The clear value of ``value`` (a clear value, kept before a key was configured, as it is)."""
    if not is_sealed_text(value):
        return value
    if keyring is None:
        raise Undecryptable("a sealed value, and no storage key is configured")
    return keyring.open(_sealed_bytes(value), context=context.encode()).decode()


def text_key_id(value: str) -> str | None:
    """The id of the key ``value`` is sealed under; None for a clear value."""
    return sealed_key_id(_sealed_bytes(value)) if is_sealed_text(value) else None


# -- key files ----------------------------------------------------------------------------------


def read_key_file(path: Path) -> Keyring:
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyringError(f"cannot read the storage key file {path}: {type(exc).__name__}") from None
    keys = [parse_key(line, where=f"{path}:{n}") for n, line in enumerate(lines, 1) if _is_key_line(line)]
    if not keys:
        raise KeyringError(f"the storage key file {path} holds no key")
    return Keyring(keys=tuple(keys), source=str(path), file=path)


def _is_key_line(line: str) -> bool:
    return bool(line.strip()) and not line.lstrip().startswith("#")


def write_key_file(keyring: Keyring, path: Path, *, exclusive: bool = False) -> bool:
    """Write the keyring to ``path`` (``0600``, atomically: a reader sees the old file or the new
    one). With ``exclusive``, only if there is no file yet; returns whether it was written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# dermatriage storage keys: the first seals, every one opens. Keep this file secret and backed up.",
        *(base64.b64encode(k).decode() for k in keyring.keys),
    ]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".key")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write("\n".join(lines) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            try:
                os.link(tmp, path)  # fails if a concurrent first start wrote it first
            except FileExistsError:
                return False
        else:
            os.replace(tmp, path)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def default_key_file(settings: Settings) -> Path | None:
    """``storage.key`` beside the SQLite database; None for PostgreSQL or an in-memory database."""
    if not settings.is_sqlite:
        return None
    database = make_url(settings.database_url).database
    if not database or database == ":memory:":
        return None
    return Path(database).parent / DEFAULT_KEY_FILE


class StorageKeyRequired(KeyringError):
    def __init__(self) -> None:
        super().__init__(
            "no storage key: set DERMATRIAGE_STORAGE_KEY (make one with `dermatriage secrets new-key`) "
            "or DERMATRIAGE_STORAGE_KEY_FILE; in production, webhook secrets are not kept in clear"
        )


def keyring_from(settings: Settings) -> Keyring | None:
    """The deployment's keyring (see the module's docstring for where it comes from)."""
    if settings.storage_key is not None and settings.storage_key_file is not None:
        raise KeyringError("set DERMATRIAGE_STORAGE_KEY or DERMATRIAGE_STORAGE_KEY_FILE, not both")
    if settings.storage_key is not None:
        old = settings.storage_old_keys.get_secret_value() if settings.storage_old_keys else ""
        keys = [parse_key(settings.storage_key.get_secret_value(), where="DERMATRIAGE_STORAGE_KEY")]
        keys += [parse_key(k, where="DERMATRIAGE_STORAGE_OLD_KEYS") for k in old.split(",") if k.strip()]
        return Keyring(keys=tuple(keys), source="DERMATRIAGE_STORAGE_KEY")
    if settings.storage_key_file is not None:
        return read_key_file(settings.storage_key_file)
    generated = default_key_file(settings)
    if generated is not None:
        if not generated.exists():
            written = write_key_file(
                Keyring(keys=(os.urandom(KEY_BYTES),), source="new"), generated, exclusive=True
            )
            if written:
                log.warning("generated the storage key %s (0600): back it up with the data", generated)
        return read_key_file(generated)
    if settings.environment == "production":
        raise StorageKeyRequired()
    log.warning(
        "no storage key is configured (DERMATRIAGE_STORAGE_KEY or DERMATRIAGE_STORAGE_KEY_FILE): "
        "webhook signing secrets are stored in clear"
    )
    return None


def keyring_of(session: Session | Connection) -> Keyring | None:
    """The keyring the session's factory was made with (``db.make_session_factory(keyring=...)``)."""
    return session.info.get("keyring")

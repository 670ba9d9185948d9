"""Rotating the storage key: everything sealed (webhook secrets; photos of the encrypted folder) is
sealed again under the keyring's current key, then the old keys can be retired.

Two steps, because every running process seals with the keyring it read at start:

1. ``rotate_key``: with a key file, a new key is put first in it (the old ones stay, still read);
   with keys from the environment, the operator has set the new key as ``DERMATRIAGE_STORAGE_KEY``
   and the old ones in ``DERMATRIAGE_STORAGE_OLD_KEYS``. Secrets and photos are sealed again under
   the current key (secrets still in clear are sealed too). Restart the service so that it writes
   with the new key.
2. ``retire_old_keys``: once nothing is sealed under an old key any more, the key file keeps only the
   current key (for the environment: it says that ``DERMATRIAGE_STORAGE_OLD_KEYS`` can go). It refuses
   while anything still needs an old key.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from serving.db import transaction
from serving.encryption import KEY_BYTES, Keyring, write_key_file
from serving.events.secrets import Resealed, reseal_secrets, secret_key_ids
from serving.photos.sealed import SealedPhotoStore
from serving.photos.store import PhotoStore


class RotationRefused(RuntimeError):
    """A rotation step that cannot be done as asked (the message says what to do)."""


@dataclass(frozen=True)
class Usage:
    """What each key seals now: webhook secrets and photos per key id (``clear``/``plain``: not sealed)."""

    secrets: Counter[str]
    photos: Counter[str]

    def old_ids(self, keyring: Keyring) -> set[str]:
        return (set(self.secrets) | set(self.photos)) - {keyring.current_id, "clear", "plain"}


def usage(sessions: sessionmaker[Session], store: PhotoStore) -> Usage:
    with transaction(sessions) as session:
        secrets = secret_key_ids(session)
    photos = store.key_ids() if isinstance(store, SealedPhotoStore) else Counter()
    return Usage(secrets=secrets, photos=photos)


@dataclass(frozen=True)
class Rotated:
    keyring: Keyring
    secrets: Resealed
    photos: int  # photos sealed again (or sealed for the first time)


def rotate_key(
    sessions: sessionmaker[Session],
    store: PhotoStore,
    keyring: Keyring,
    *,
    new_key: bool,
    progress: bool = False,
) -> Rotated:
    """Seal everything under the current key; with ``new_key``, a new current key first (key files only)."""
    if new_key:
        if keyring.file is None:
            raise RotationRefused(
                "the keys come from the environment: set the new key as DERMATRIAGE_STORAGE_KEY and the old "
                "one in DERMATRIAGE_STORAGE_OLD_KEYS, then run `dermatriage secrets rotate-key --no-new-key`"
            )
        keyring = keyring.rotated(os.urandom(KEY_BYTES))
        write_key_file(keyring, keyring.file)
    if isinstance(store, SealedPhotoStore):
        store = SealedPhotoStore(store.root, keyring)
    with transaction(sessions) as session:
        secrets = reseal_secrets(session, keyring)
    photos = 0
    if isinstance(store, SealedPhotoStore):
        keys = list(store.iter_keys())
        for key in tqdm(keys, desc="photos", unit="obj", disable=not progress, file=sys.stderr):
            photos += store.reseal(key)
    return Rotated(keyring=keyring, secrets=secrets, photos=photos)


def retire_old_keys(sessions: sessionmaker[Session], store: PhotoStore, keyring: Keyring) -> Keyring:
    """The keyring less its old keys, written to its file; refused while anything needs an old key."""
    still = usage(sessions, store).old_ids(keyring)
    if still:
        raise RotationRefused(
            f"key id(s) {', '.join(sorted(still))} still seal secrets or photos; run "
            "`dermatriage secrets rotate-key --no-new-key` first"
        )
    retired = keyring.retired(keep=set())
    if keyring.file is not None:
        write_key_file(retired, keyring.file)
    return retired

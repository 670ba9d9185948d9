"""Writing a request's photos to the store before the transaction that names them, and cleaning up
after it: what case intake and message attachments both do.

Files go first (content-addressed, so a retry rewrites nothing), then one transaction inserts the
rows. If it fails, the files this request created are removed unless a row references them; if it
commits, files a concurrent failed request may have removed are put back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from model.intake import IngestedPhoto
from serving.db import transaction
from serving.photos.references import is_referenced
from serving.photos.store import PhotoStore


@dataclass(frozen=True)
class StoredPhotos:
    photos: list[IngestedPhoto]
    keys: list[tuple[str, str]]  # (image key, thumbnail key) per photo, in order
    created: list[str]  # the keys this request created (removed again if its transaction fails)

    def columns(self) -> list[dict[str, object]]:
        """Per photo, in order, the columns every row that names a stored image has: its keys and
        what the file is."""
        return [
            {
                "storage_key": key,
                "thumbnail_key": thumbnail_key,
                "media_type": photo.media_type,
                "sha256": photo.sha256,
                "width": photo.width,
                "height": photo.height,
                "size_bytes": len(photo.content),
            }
            for photo, (key, thumbnail_key) in zip(self.photos, self.keys, strict=True)
        ]


def _objects(photo: IngestedPhoto) -> tuple[tuple[bytes, str, str], tuple[bytes, str, str]]:
    return (
        (photo.content, photo.sha256, photo.suffix),
        (photo.thumbnail, hashlib.sha256(photo.thumbnail).hexdigest(), "jpg"),
    )


def store_photos(store: PhotoStore, photos: Sequence[IngestedPhoto]) -> StoredPhotos:
    keys, created = [], []
    for photo in photos:
        pair = []
        for content, sha, suffix in _objects(photo):
            key, was_created = store.put(content, sha256=sha, suffix=suffix)
            pair.append(key)
            if was_created:
                created.append(key)
        keys.append((pair[0], pair[1]))
    return StoredPhotos(photos=list(photos), keys=keys, created=created)


def restore_missing(store: PhotoStore, stored: StoredPhotos) -> None:
    """After commit: a concurrent request that failed may have removed a file both wrote; put it back."""
    for photo, pair in zip(stored.photos, stored.keys, strict=True):
        for (content, sha, suffix), key in zip(_objects(photo), pair, strict=True):
            if not store.exists(key):
                store.put(content, sha256=sha, suffix=suffix)


def remove_orphans(sessions: sessionmaker[Session], store: PhotoStore, keys: Sequence[str]) -> None:
    """After a failed transaction: delete the files this request created that no row references."""
    if not keys:
        return
    with transaction(sessions) as session:
        for key in keys:
            if not is_referenced(session, key):
                store.delete(key)

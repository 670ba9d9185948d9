"""Remove stored objects no photo or message attachment references (left by a crash before commit)."""

from __future__ import annotations

import time

from sqlalchemy.orm import Session, sessionmaker

from serving.db import transaction
from serving.photos.references import referenced_keys
from serving.photos.store import PhotoStore


def sweep_orphans(
    sessions: sessionmaker[Session], store: PhotoStore, *, grace_s: float = 3600.0
) -> list[str]:
    """Delete unreferenced objects older than ``grace_s`` (younger ones may belong to a request in
    flight); returns the deleted keys. Also removes stale temporary files."""
    cutoff = time.time() - grace_s
    candidates = [key for key in store.iter_keys() if store.mtime(key) < cutoff]
    if not candidates:
        store.sweep_temp_files(grace_s)
        return []
    with transaction(sessions) as session:
        referenced = referenced_keys(session)
    orphans = [key for key in candidates if key not in referenced]
    for key in orphans:
        store.delete(key)
    store.sweep_temp_files(grace_s)
    return orphans

"""Is a stored file still referenced? The one rule, for the orphan sweep and for a request that
failed after writing its files.

Case photos and message attachments share the content-addressed store, so a file may be named by
rows of either table; it may be deleted only when no row of any of them names it. The tables are
named here (not imported: they belong to higher layers); a test checks the list against every
``storage_key``/``thumbnail_key`` column the models declare.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import ColumnClause, column, exists, or_, select, table, union
from sqlalchemy.orm import Session

#: every table whose rows name files of the photo store, and the columns that hold the keys
STORE_REFERENCES: dict[str, tuple[str, ...]] = {
    "photos": ("storage_key", "thumbnail_key"),
    "message_attachments": ("storage_key", "thumbnail_key"),
}


def _key_columns() -> Iterator[ColumnClause]:
    for name, columns in STORE_REFERENCES.items():
        yield from table(name, *(column(c) for c in columns)).c


def is_referenced(session: Session, key: str) -> bool:
    return bool(session.scalar(select(or_(*(exists().where(c == key) for c in _key_columns())))))


def referenced_keys(session: Session) -> set[str]:
    return set(session.scalars(union(*(select(c) for c in _key_columns()))))

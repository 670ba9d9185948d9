"""Column helpers the migrations share. A released migration must create exactly the same schema
forever: never change what a helper here makes; add a new helper instead."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

#: every timestamp column: timezone-aware
TS = sa.DateTime(timezone=True)


def id_column() -> sa.Column:
    return sa.Column("id", sa.String(36), primary_key=True)


def fk(
    table: str, column: str, target: str, *, nullable: bool = False, primary_key: bool = False, **options
) -> sa.Column:
    """A String(36) column referencing ``target.id`` (``options``: the foreign key's, e.g. deferrable),
    its constraint named by the project's convention."""
    return sa.Column(
        column,
        sa.String(36),
        sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}", **options),
        nullable=nullable,
        primary_key=primary_key,
    )


def create_indexes(table: str, *columns: str) -> None:
    """One index per column, ``ix_<table>_<column>``."""
    for column in columns:
        op.create_index(f"ix_{table}_{column}", table, [column])

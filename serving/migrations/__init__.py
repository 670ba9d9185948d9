"""Alembic migrations, run programmatically (no alembic.ini needed at run time).

``upgrade(url)`` brings a database to the newest revision; on PostgreSQL it holds an advisory
lock so that several replicas starting together migrate once.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from serving.db import make_engine
from serving.encryption import Keyring

HERE = Path(__file__).parent
_ADVISORY_LOCK = 7_210_042  # arbitrary, fixed: "dermatriage migrations"


def alembic_config(connection: Connection | None = None, keyring: Keyring | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = connection
    config.attributes["keyring"] = keyring  # for data migrations that seal secrets (0008)
    return config


def upgrade(url: str, revision: str = "heads", *, keyring: Keyring | None = None) -> None:
    """Migrate to ``revision``; ``keyring`` (``serving.encryption.keyring_from(settings)``) lets the
    migrations seal what they find in clear (webhook secrets, 0008); without one it stays clear."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            postgres = conn.dialect.name == "postgresql"
            if postgres:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _ADVISORY_LOCK})
                conn.commit()
            try:
                command.upgrade(alembic_config(conn, keyring), revision)
            finally:
                if postgres:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _ADVISORY_LOCK})
                    conn.commit()
    finally:
        engine.dispose()


class _QuietContext(logging.Filter):
    """Drops alembic's two "Context impl ..." lines, which a readiness probe would log on every call."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(("Context impl", "Will assume"))


_QUIET_CONTEXT = _QuietContext()


def at_head(conn: Connection) -> bool:
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    migration_log = logging.getLogger("alembic.runtime.migration")
    migration_log.addFilter(_QUIET_CONTEXT)
    try:
        return set(MigrationContext.configure(conn).get_current_heads()) == heads
    finally:
        migration_log.removeFilter(_QUIET_CONTEXT)

"""The migrations make exactly the committed schema (every table, column, constraint, index and
trigger; ``schema.sqlite.txt`` beside this file), so a change to a released migration, or to a
helper it uses, cannot slip through. When you add a migration on purpose, regenerate the file with
``.venv/bin/python tests/serving/test_migrations.py``."""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from serving.migrations import upgrade

COMMITTED = Path(__file__).with_name("schema.sqlite.txt")


def schema_of(database: Path) -> str:
    url = f"sqlite:///{database}"
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
            )
        ).all()
    engine.dispose()
    return "".join(f"-- {kind} {name}\n{_normalized(sql)}\n\n" for kind, name, sql in rows if sql)


def _normalized(sql: str) -> str:
    """The statement's lines sorted (SQLite keeps a table's constraints in the order Alembic's batch
    mode happened to recreate them, which varies from run to run)."""
    return "\n".join(sorted(line.strip().rstrip(",") for line in sql.splitlines()))


def test_the_migrations_make_the_committed_schema(tmp_path: Path) -> None:
    assert schema_of(tmp_path / "fresh.db") == COMMITTED.read_text(encoding="utf-8"), (
        "the schema changed; if that is deliberate, run `.venv/bin/python tests/serving/test_migrations.py`"
    )


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        COMMITTED.write_text(schema_of(Path(folder) / "fresh.db"), encoding="utf-8")
    sys.stdout.write(f"wrote {COMMITTED}\n")

from __future__ import annotations

from alembic import context

import serving.models  # noqa: F401 - registers every table on Base.metadata
from serving.db import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through serving.migrations.upgrade(), which passes a connection")

context.configure(
    connection=connection, target_metadata=Base.metadata, render_as_batch=True, compare_type=True
)
with context.begin_transaction():
    context.run_migrations()

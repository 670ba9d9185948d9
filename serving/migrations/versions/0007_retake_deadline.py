"""Organizations set how long a case waits for a usable photo before it enters the queue anyway.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    # a plain ADD COLUMN (no table copy on SQLite); NULL: the default deadline
    op.add_column("organizations", sa.Column("retake_deadline_hours", sa.Float(), nullable=True))


def downgrade() -> None:
    # a plain DROP COLUMN (SQLite >= 3.35): a batch table copy of a table every other one refers to
    op.execute("ALTER TABLE organizations DROP COLUMN retake_deadline_hours")

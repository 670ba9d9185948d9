"""Each user's time zone (an IANA name such as ``America/Los_Angeles``): the pages show every time in it
(UTC on hover). Empty for existing users: the pages show UTC until the user picks one.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    op.add_column("users", sa.Column("time_zone", sa.String(64), nullable=True))


def downgrade() -> None:
    # a plain DROP COLUMN (SQLite >= 3.35): a batch table copy of a table others refer to fails
    op.execute("ALTER TABLE users DROP COLUMN time_zone")

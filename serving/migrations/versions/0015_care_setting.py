"""Where a case's care should happen, as triage judged it (``care_setting``): ``remote``,
``in_person_likely`` or ``emergency`` (``model/triage``). Existing cases: ``emergency`` for tier
EMERGENCY, else ``remote`` (they were triaged before the rule existed).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"

_cases = sa.table("cases", sa.column("tier", sa.String(16)), sa.column("care_setting", sa.String(32)))


def upgrade() -> None:
    op.add_column("cases", sa.Column("care_setting", sa.String(32), nullable=True))
    conn = op.get_bind()
    conn.execute(sa.update(_cases).where(_cases.c.tier == "EMERGENCY").values(care_setting="emergency"))
    conn.execute(sa.update(_cases).where(_cases.c.care_setting.is_(None)).values(care_setting="remote"))


def downgrade() -> None:
    # a plain DROP COLUMN (SQLite >= 3.35): a batch table copy of a table others refer to fails
    op.execute("ALTER TABLE cases DROP COLUMN care_setting")

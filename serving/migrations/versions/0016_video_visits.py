"""Video visits: a dermatologist escalates a case to a live video visit (``video_visits``: the times
offered, the one the patient picked, the join link, how it ended), and each organization's video URL
template (``organizations.video_url_template``) the join links are built from.

A downgrade sends the cases waiting for a visit (status ``awaiting_visit``, unknown before 0016) back
to the dermatologists: ``emergency`` for tier EMERGENCY, else ``queued``.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

from serving.migrations.schema import TS, create_indexes, fk, id_column

revision = "0016"
down_revision = "0015"

_cases = sa.table(
    "cases",
    sa.column("status", sa.String(32)),
    sa.column("tier", sa.String(16)),
    sa.column("assigned_to", sa.String(36)),
    sa.column("lease_expires_at", TS),
)


def upgrade() -> None:
    op.add_column("organizations", sa.Column("video_url_template", sa.String(2000), nullable=True))
    op.create_table(
        "video_visits",
        id_column(),
        fk("video_visits", "organization_id", "organizations"),
        fk("video_visits", "case_id", "cases"),
        sa.Column("proposed_times", sa.JSON(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("join_url", sa.String(2000), nullable=True),
        sa.Column("confirmed_time", TS, nullable=True),
        sa.Column("confirmed_at", TS, nullable=True),
        sa.Column("completed_at", TS, nullable=True),
        sa.Column("completion_note", sa.Text(), nullable=True),
        sa.Column("cancelled_at", TS, nullable=True),
        sa.Column("cancelled_by", sa.String(16), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        fk("video_visits", "proposed_by_user_id", "users", nullable=True),
        sa.Column("proposed_by_key_id", sa.String(36), nullable=True),
    )
    create_indexes("video_visits", "organization_id", "case_id")


def downgrade() -> None:
    conn = op.get_bind()
    waiting = _cases.c.status == "awaiting_visit"
    free = {"assigned_to": None, "lease_expires_at": None}
    conn.execute(
        sa.update(_cases).where(waiting, _cases.c.tier == "EMERGENCY").values(status="emergency", **free)
    )
    conn.execute(sa.update(_cases).where(waiting).values(status="queued", **free))
    op.drop_table("video_visits")
    # a plain DROP COLUMN (SQLite >= 3.35): a batch table copy of a table others refer to fails
    op.execute("ALTER TABLE organizations DROP COLUMN video_url_template")

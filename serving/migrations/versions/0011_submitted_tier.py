"""Cases keep the tier of their first triage (``submitted_tier``): a retake or a follow-up triages a case
again and replaces ``tier``, but monitoring judges the triage by the tier the case got on submission.

Existing cases take the tier their ``case.create`` audit row recorded (the tier at intake), else their
current tier.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"

_cases = sa.table("cases", sa.column("id", sa.String(36)), sa.column("tier"), sa.column("submitted_tier"))
_audit = sa.table(
    "audit_events",
    sa.column("id"),
    sa.column("action"),
    sa.column("resource_type"),
    sa.column("resource_id"),
    sa.column("outcome"),
    sa.column("detail", sa.JSON()),
)
_TIERS = ("EMERGENCY", "URGENT", "PRIORITY", "ROUTINE")


def upgrade() -> None:
    # a plain ADD COLUMN (no table copy on SQLite); the ORM fills it on every insert
    op.add_column("cases", sa.Column("submitted_tier", sa.String(16), nullable=True))
    conn = op.get_bind()
    conn.execute(sa.update(_cases).values(submitted_tier=_cases.c.tier))
    created = conn.execute(
        sa.select(_audit.c.resource_id, _audit.c.detail)
        .where(
            _audit.c.action == "case.create",
            _audit.c.resource_type == "case",
            _audit.c.outcome == "ok",
        )
        .order_by(_audit.c.id)
    )
    at_intake: dict[str, str] = {}
    for case_id, detail in created:
        tier = (detail or {}).get("tier") if isinstance(detail, dict) else None
        if case_id and tier in _TIERS:
            at_intake.setdefault(case_id, tier)  # the first row: the submission
    if at_intake:
        conn.execute(
            sa.update(_cases)
            .where(_cases.c.id == sa.bindparam("case_id"))
            .values(submitted_tier=sa.bindparam("first_tier")),
            [{"case_id": case_id, "first_tier": tier} for case_id, tier in at_intake.items()],
        )


def downgrade() -> None:
    # a plain DROP COLUMN (SQLite >= 3.35): a batch table copy of a table every other one refers to
    op.execute("ALTER TABLE cases DROP COLUMN submitted_tier")

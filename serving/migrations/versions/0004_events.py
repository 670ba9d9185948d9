"""Events: the outbox, delivery attempts, and each organization's webhook.

Revision ID: 0004
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from serving.migrations.schema import TS, fk

revision = "0004"
down_revision = "0002"

SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(sa.Column("webhook_url", sa.String(2000), nullable=True))
        batch.add_column(sa.Column("webhook_secret", sa.String(200), nullable=True))

    op.create_table(
        "outbox_events",
        sa.Column("sequence", SEQUENCE, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False),
        fk("outbox_events", "organization_id", "organizations"),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("delivery_state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("last_attempt_at", TS, nullable=True),
        sa.Column("delivered_at", TS, nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("claim_token", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("sequence", name="pk_outbox_events"),
        sa.UniqueConstraint("id", name="uq_outbox_events_id"),
    )
    op.create_index("ix_outbox_events_org_sequence", "outbox_events", ["organization_id", "sequence"])
    op.create_index("ix_outbox_events_case_sequence", "outbox_events", ["case_id", "sequence"])
    op.create_index("ix_outbox_events_state_due", "outbox_events", ["delivery_state", "next_attempt_at"])

    op.create_table(
        "event_delivery_attempts",
        sa.Column("id", SEQUENCE, primary_key=True, autoincrement=True),
        sa.Column(
            "event_sequence",
            SEQUENCE,
            sa.ForeignKey(
                "outbox_events.sequence", name="fk_event_delivery_attempts_event_sequence_outbox_events"
            ),
            nullable=False,
        ),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_event_delivery_attempts"),
    )
    op.create_index(
        "ix_event_delivery_attempts_event_sequence", "event_delivery_attempts", ["event_sequence"]
    )


def downgrade() -> None:
    op.drop_table("event_delivery_attempts")
    op.drop_table("outbox_events")
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("webhook_secret")
        batch.drop_column("webhook_url")

"""People and the queue: users, keys that belong to them, case leases, the queue's index.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from serving.migrations.schema import TS, fk, id_column

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "users",
        id_column(),
        fk("users", "organization_id", "organizations"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("jurisdictions", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("deactivated_at", TS, nullable=True),
    )
    op.create_index("ix_users_organization_id", "users", ["organization_id"])

    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("user_id", sa.String(36), nullable=True))
        batch.create_foreign_key("fk_api_keys_user_id_users", "users", ["user_id"], ["id"])
        batch.create_index("ix_api_keys_user_id", ["user_id"])

    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("assigned_to", sa.String(36), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", TS, nullable=True))
        batch.add_column(sa.Column("first_reviewed_at", TS, nullable=True))
        batch.add_column(sa.Column("last_queued_at", TS, nullable=True))
        batch.create_foreign_key("fk_cases_assigned_to_users", "users", ["assigned_to"], ["id"])
        batch.create_index("ix_cases_assigned_to", ["assigned_to"])
        batch.create_index("ix_cases_status_lease", ["status", "lease_expires_at"])
    # outside the batch: an expression (DESC) index cannot be carried through SQLite's table copy
    op.drop_index("ix_cases_org_status_due", table_name="cases")  # a prefix of the queue's index
    op.create_index(
        "ix_cases_queue_order",
        "cases",
        ["organization_id", "status", "review_due_at", sa.text("urgency_score DESC"), "created_at", "id"],
    )

    # a plain ADD COLUMN (SQLite needs no table copy, so the append-only triggers stay)
    op.add_column("audit_events", sa.Column("actor_user_id", sa.String(36), nullable=True))
    op.create_index("ix_audit_events_actor_user_id", "audit_events", ["actor_user_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_actor_user_id", table_name="audit_events")
    # a plain DROP COLUMN (SQLite >= 3.35): a batch table copy would lose the append-only triggers
    op.execute("ALTER TABLE audit_events DROP COLUMN actor_user_id")
    op.drop_index("ix_cases_queue_order", table_name="cases")
    op.create_index("ix_cases_org_status_due", "cases", ["organization_id", "status", "review_due_at"])
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_status_lease")
        batch.drop_index("ix_cases_assigned_to")
        batch.drop_constraint("fk_cases_assigned_to_users", type_="foreignkey")
        for column in ("last_queued_at", "first_reviewed_at", "lease_expires_at", "assigned_to"):
            batch.drop_column(column)
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_index("ix_api_keys_user_id")
        batch.drop_constraint("fk_api_keys_user_id_users", type_="foreignkey")
        batch.drop_column("user_id")
    op.drop_table("users")

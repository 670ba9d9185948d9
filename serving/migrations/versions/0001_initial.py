"""Initial schema: organizations, API keys, cases, photos, idempotency keys, audit log.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from serving.migrations.schema import TS, create_indexes, fk, id_column

revision = "0001"
down_revision = None


def _org_fk(table: str) -> sa.Column:
    return fk(table, "organization_id", "organizations")


# The audit log is append-only: the database itself refuses UPDATE and DELETE.
_PG_AUDIT_GUARD = """
CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
"""
_SQLITE_AUDIT_GUARD = [
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
]


def upgrade() -> None:
    op.create_table(
        "organizations",
        id_column(),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sla_hours", sa.JSON(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("slug", name="uq_organizations_slug"),
    )
    op.create_table(
        "api_keys",
        id_column(),
        _org_fk("api_keys"),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_index("ix_api_keys_organization_id", "api_keys", ["organization_id"])

    op.create_table(
        "cases",
        id_column(),
        _org_fk("cases"),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("jurisdiction", sa.String(16), nullable=False),
        sa.Column("questionnaire", sa.JSON(), nullable=False),
        sa.Column("submitted_by", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("urgency_score", sa.Float(), nullable=False),
        sa.Column("retake_required", sa.Boolean(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("patient_advice", sa.JSON(), nullable=False),
        sa.Column("model_versions", sa.JSON(), nullable=False),
        sa.Column("triaged_at", TS, nullable=False),
        sa.Column("queued_at", TS, nullable=True),
        sa.Column("review_due_at", TS, nullable=True),
    )
    op.create_index("ix_cases_org_status_due", "cases", ["organization_id", "status", "review_due_at"])

    op.create_table(
        "idempotency_keys",
        _org_fk("idempotency_keys"),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        fk("idempotency_keys", "case_id", "cases", deferrable=True, initially="DEFERRED"),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "key", name="pk_idempotency_keys"),
    )

    op.create_table(
        "photos",
        id_column(),
        fk("photos", "case_id", "cases"),
        _org_fk("photos"),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(200), nullable=False),
        sa.Column("thumbnail_key", sa.String(200), nullable=False),
        sa.Column("media_type", sa.String(32), nullable=False),
        sa.Column("source_format", sa.String(16), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("quality_verdict", sa.String(16), nullable=False),
        sa.Column("quality_score", sa.Float(), nullable=False),
        sa.Column("quality", sa.JSON(), nullable=False),
    )
    create_indexes("photos", "case_id", "organization_id", "sha256", "storage_key", "thumbnail_key")

    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("organization_id", sa.String(36), nullable=True),
        sa.Column("actor_key_id", sa.String(36), nullable=True),
        sa.Column("actor_role", sa.String(32), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("client_address", sa.String(64), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
    )
    create_indexes("audit_events", "at", "organization_id", "resource_id")
    if op.get_context().dialect.name == "postgresql":
        op.execute(_PG_AUDIT_GUARD)
    else:
        for statement in _SQLITE_AUDIT_GUARD:
            op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    for table in ("audit_events", "photos", "idempotency_keys", "cases", "api_keys", "organizations"):
        op.drop_table(table)

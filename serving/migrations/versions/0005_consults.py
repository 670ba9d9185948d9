"""Consults: diagnoses, prescriptions, renewal requests, follow-ups, messages with attachments,
dispositions (referral, closure). Merges the people/queue (0003) and events (0004) branches.

Revision ID: 0005
Revises: 0003, 0004
"""

import sqlalchemy as sa
from alembic import op

from serving.migrations.schema import TS, create_indexes, fk, id_column

revision = "0005"
down_revision = ("0003", "0004")


def _owned(table: str) -> list[sa.Column]:
    """organization_id and case_id, both indexed."""
    return [fk(table, "organization_id", "organizations"), fk(table, "case_id", "cases")]


def upgrade() -> None:
    op.create_table(
        "diagnoses",
        id_column(),
        *_owned("diagnoses"),
        sa.Column("icd10_code", sa.String(16), nullable=False),
        sa.Column("icd10_title", sa.String(200), nullable=False),
        sa.Column("certainty", sa.String(16), nullable=False),
        sa.Column("free_text", sa.Text(), nullable=True),
        sa.Column("assessment", sa.Text(), nullable=False),
        sa.Column("patient_plan", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        fk("diagnoses", "created_by_user_id", "users", nullable=True),
        sa.Column("created_by_key_id", sa.String(36), nullable=True),
    )
    create_indexes("diagnoses", "organization_id", "case_id")

    op.create_table(
        "prescriptions",
        id_column(),
        *_owned("prescriptions"),
        fk("prescriptions", "diagnosis_id", "diagnoses"),
        sa.Column("rxcui", sa.String(16), nullable=False),
        sa.Column("medication", sa.String(200), nullable=False),
        sa.Column("strength", sa.String(64), nullable=False),
        sa.Column("form", sa.String(64), nullable=False),
        sa.Column("directions", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("quantity_unit", sa.String(32), nullable=False),
        sa.Column("refills", sa.Integer(), nullable=False),
        sa.Column("pharmacy_note", sa.Text(), nullable=True),
        fk("prescriptions", "renews_id", "prescriptions", nullable=True),
        sa.Column("created_at", TS, nullable=False),
        fk("prescriptions", "prescribed_by_user_id", "users", nullable=True),
        sa.Column("prescribed_by_key_id", sa.String(36), nullable=True),
    )
    create_indexes("prescriptions", "organization_id", "case_id", "renews_id")

    op.create_table(
        "renewal_requests",
        id_column(),
        fk("renewal_requests", "organization_id", "organizations"),
        fk("renewal_requests", "case_id", "cases"),
        fk("renewal_requests", "prescription_id", "prescriptions"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("patient_note", sa.Text(), nullable=True),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        fk("renewal_requests", "decided_by_user_id", "users", nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        fk("renewal_requests", "new_prescription_id", "prescriptions", nullable=True),
        sa.UniqueConstraint("organization_id", "idempotency_key", name="uq_renewal_requests_org_key"),
    )
    create_indexes("renewal_requests", "case_id", "prescription_id")
    op.create_index(
        "ix_renewal_requests_org_status_due", "renewal_requests", ["organization_id", "status", "due_at"]
    )

    op.create_table(
        "follow_ups",
        id_column(),
        *_owned("follow_ups"),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        fk("follow_ups", "created_by_user_id", "users", nullable=True),
        sa.Column("received_at", TS, nullable=True),
        sa.Column("received_batch", sa.Integer(), nullable=True),
        sa.Column("due_notified_at", TS, nullable=True),
    )
    create_indexes("follow_ups", "organization_id", "case_id")
    op.create_index("ix_follow_ups_status_due", "follow_ups", ["status", "due_at"])

    op.create_table(
        "messages",
        id_column(),
        *_owned("messages"),
        sa.Column("sender", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        fk("messages", "sender_user_id", "users", nullable=True),
        sa.Column("sender_key_id", sa.String(36), nullable=True),
    )
    create_indexes("messages", "organization_id", "case_id")

    op.create_table(
        "message_attachments",
        id_column(),
        fk("message_attachments", "message_id", "messages"),
        fk("message_attachments", "organization_id", "organizations"),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(200), nullable=False),
        sa.Column("thumbnail_key", sa.String(200), nullable=False),
        sa.Column("media_type", sa.String(32), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    create_indexes("message_attachments", "message_id", "organization_id", "storage_key", "thumbnail_key")

    op.create_table(
        "dispositions",
        id_column(),
        *_owned("dispositions"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("urgency", sa.String(16), nullable=True),
        sa.Column("specialty", sa.String(100), nullable=True),
        sa.Column("instructions", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        fk("dispositions", "created_by_user_id", "users", nullable=True),
        sa.Column("created_by_key_id", sa.String(36), nullable=True),
    )
    create_indexes("dispositions", "organization_id", "case_id")


def downgrade() -> None:
    for table in (
        "dispositions",
        "message_attachments",
        "messages",
        "follow_ups",
        "renewal_requests",
        "prescriptions",
        "diagnoses",
    ):
        op.drop_table(table)

"""Signed consult notes: a diagnosis or a prescription may be written as a draft (held, no event) and
released with others as one signed note (``consult_notes``: the content as released, its SHA-256, who
signed it under which licence, when). Existing diagnoses and prescriptions were told to the patient when
written: they are not drafts (``draft`` false) and no note released them (``consult_note_id`` null).

``consult_note_id`` has no foreign key: a plain ADD COLUMN on SQLite (no copy of tables others refer to);
the service writes it only with the id of the note it has just made.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

from serving.migrations.schema import TS, create_indexes, fk, id_column

revision = "0014"
down_revision = "0013"

RELEASABLE = ("diagnoses", "prescriptions")


def upgrade() -> None:
    op.create_table(
        "consult_notes",
        id_column(),
        fk("consult_notes", "organization_id", "organizations"),
        fk("consult_notes", "case_id", "cases"),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("signed_at", TS, nullable=False),
        fk("consult_notes", "signed_by_user_id", "users"),
        sa.Column("signed_by_key_id", sa.String(36), nullable=True),
        sa.Column("signed_by_name", sa.String(200), nullable=False),
        sa.Column("licence_jurisdiction", sa.String(16), nullable=False),
        sa.Column("attestation", sa.Text(), nullable=False),
        sa.UniqueConstraint("case_id", "number", name="uq_consult_notes_case_number"),
    )
    create_indexes("consult_notes", "organization_id", "case_id")
    for table in RELEASABLE:
        op.add_column(table, sa.Column("draft", sa.Boolean(), nullable=False, server_default=sa.false()))
        op.add_column(table, sa.Column("consult_note_id", sa.String(36), nullable=True))
        create_indexes(table, "consult_note_id")


def downgrade() -> None:
    for table in RELEASABLE:
        op.drop_index(f"ix_{table}_consult_note_id", table_name=table)
        # plain DROP COLUMN (SQLite >= 3.35): a batch table copy of a table others refer to fails
        op.execute(f"ALTER TABLE {table} DROP COLUMN consult_note_id")
        op.execute(f"ALTER TABLE {table} DROP COLUMN draft")
    op.drop_table("consult_notes")

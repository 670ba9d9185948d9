"""Pathology results: the histopathology diagnosis of a case's biopsy or excision (ICD-10-CM from the
diagnosis catalogue), its report date and free text; several per case, the latest by report date is the
case's outcome.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from serving.migrations.schema import TS, create_indexes, fk, id_column

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.create_table(
        "pathology_results",
        id_column(),
        fk("pathology_results", "organization_id", "organizations"),
        fk("pathology_results", "case_id", "cases"),
        sa.Column("icd10_code", sa.String(16), nullable=False),
        sa.Column("icd10_title", sa.String(200), nullable=False),
        sa.Column("reported_on", sa.Date(), nullable=False),
        sa.Column("report", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        fk("pathology_results", "recorded_by_user_id", "users", nullable=True),
        sa.Column("recorded_by_key_id", sa.String(36), nullable=True),
    )
    create_indexes("pathology_results", "organization_id", "case_id")


def downgrade() -> None:
    op.drop_table("pathology_results")

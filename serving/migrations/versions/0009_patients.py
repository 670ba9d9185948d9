"""Patients and lesions: a case may belong to a patient (pseudonymous, per organization: the intake
system's own ``external_id``) and show one of the patient's lesions; the photos of a lesion across
cases form its timeline. An erased patient keeps a row with no identifying data (``erased_at``).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from serving.migrations.schema import TS, create_indexes, fk, id_column

revision = "0009"
down_revision = "0008"

_CASE_LINKS = (("patient_id", "patients"), ("lesion_id", "lesions"))


def upgrade() -> None:
    op.create_table(
        "patients",
        id_column(),
        fk("patients", "organization_id", "organizations"),
        # NULL once the patient is erased (several erased patients never collide)
        sa.Column("external_id", sa.String(128), nullable=True),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("sex", sa.String(16), nullable=True),
        sa.Column("display_name", sa.String(200), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("erased_at", TS, nullable=True),
        sa.UniqueConstraint("organization_id", "external_id", name="uq_patients_org_external_id"),
    )
    op.create_table(
        "lesions",
        id_column(),
        fk("lesions", "organization_id", "organizations"),
        fk("lesions", "patient_id", "patients"),
        sa.Column("label", sa.String(120), nullable=False),
        #: the label normalized (case, spaces): one lesion per (patient, label_key)
        sa.Column("label_key", sa.String(120), nullable=False),
        sa.Column("body_site", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("patient_id", "label_key", name="uq_lesions_patient_label_key"),
    )
    create_indexes("lesions", "organization_id")

    sqlite = op.get_bind().dialect.name == "sqlite"
    for column, target in _CASE_LINKS:
        name = f"fk_cases_{column}_{target}"
        if sqlite:  # a plain ADD COLUMN: a batch copy of cases would lose its expression index
            references = f"CONSTRAINT {name} REFERENCES {target} (id)"
            op.execute(f"ALTER TABLE cases ADD COLUMN {column} VARCHAR(36) {references}")
        else:
            op.add_column("cases", sa.Column(column, sa.String(36), nullable=True))
            op.create_foreign_key(name, "cases", target, [column], ["id"])
    create_indexes("cases", *(column for column, _ in _CASE_LINKS))


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for column, target in reversed(_CASE_LINKS):
        op.drop_index(f"ix_cases_{column}", table_name="cases")
        if not sqlite:
            op.drop_constraint(f"fk_cases_{column}_{target}", "cases", type_="foreignkey")
        op.execute(f"ALTER TABLE cases DROP COLUMN {column}")
    op.drop_table("lesions")
    op.drop_table("patients")

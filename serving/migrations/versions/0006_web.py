"""The dermatologists' pages: sign-in names and password hashes, server-side sessions, sign-in
attempts (for the lockout).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from serving.migrations.schema import TS, fk, id_column

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "user_credentials",
        fk("user_credentials", "user_id", "users", primary_key=True),
        fk("user_credentials", "organization_id", "organizations"),
        sa.Column("login", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("password_set_at", TS, nullable=False),
        sa.UniqueConstraint("organization_id", "login", name="uq_user_credentials_organization_id"),
    )
    op.create_index("ix_user_credentials_organization_id", "user_credentials", ["organization_id"])

    op.create_table(
        "web_sessions",
        id_column(),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        fk("web_sessions", "user_id", "users"),
        fk("web_sessions", "organization_id", "organizations"),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("client_address", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(300), nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_web_sessions_token_hash"),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])

    op.create_table(
        "sign_in_attempts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=True),
        sa.Column("client_address", sa.String(64), nullable=True),
    )
    op.create_index("ix_sign_in_attempts_subject_at", "sign_in_attempts", ["subject", "at"])


def downgrade() -> None:
    op.drop_table("sign_in_attempts")
    op.drop_table("web_sessions")
    op.drop_table("user_credentials")

"""Webhook signing secrets sealed at rest: every secret still kept in clear is sealed under the
storage key (AES-256-GCM, bound to its organization; ``serving.events.secrets``). No schema change:
a sealed secret fits the column (``sealed:v1:`` and 116 base64 characters).

With no storage key configured (PostgreSQL without DERMATRIAGE_STORAGE_KEY; SQLite always has one,
generated beside the database) the secrets stay in clear and the service warns at every start;
``dermatriage secrets rotate-key`` seals them once a key is set. Downgrading opens them again
(it needs the key).

Revision ID: 0008
Revises: 0007
"""

import logging

import sqlalchemy as sa
from alembic import context, op

from serving.events.secrets import open_secret, reseal_secrets

revision = "0008"
down_revision = "0007"

log = logging.getLogger("dermatriage.migrations")
_ORGS = sa.table("organizations", sa.column("id"), sa.column("webhook_secret"))


def upgrade() -> None:
    keyring = context.config.attributes.get("keyring")
    if keyring is None:
        log.warning("0008: no storage key configured; webhook secrets stay in clear")
        return
    result = reseal_secrets(op.get_bind(), keyring)
    log.info("0008: %d webhook secret(s) sealed", result.resealed)
    if result.unreadable:  # cannot happen before 0008 wrote anything; said, never fatal to a start
        log.warning("0008: %d webhook secret(s) sealed under a key not configured", len(result.unreadable))


def downgrade() -> None:
    keyring = context.config.attributes.get("keyring")
    bind = op.get_bind()
    for org_id, stored in bind.execute(sa.select(_ORGS.c.id, _ORGS.c.webhook_secret)).all():
        if stored is not None:
            clear = open_secret(keyring, org_id, stored)  # without the key: Undecryptable, no downgrade
            bind.execute(sa.update(_ORGS).where(_ORGS.c.id == org_id).values(webhook_secret=clear))

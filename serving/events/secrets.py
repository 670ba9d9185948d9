"""Webhook signing secrets at rest: sealed under the storage key (:mod:`serving.encryption`), bound
to their organization (a sealed secret copied to another organization's row does not open).

A secret written while no key was configured is kept in clear and still used; migration 0008 and
``dermatriage secrets rotate-key`` seal such secrets once a key is there.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Connection, column, select, table, update
from sqlalchemy.orm import Session

from serving.encryption import Keyring, Undecryptable, open_text, seal_text, text_key_id

#: the column, named here (not the ORM class) so that migrations can use these functions as they were
_ORGS = table("organizations", column("id"), column("webhook_secret"))


def _context(org_id: str) -> str:
    return f"organizations.webhook_secret:{org_id}"


def seal_secret(keyring: Keyring | None, org_id: str, secret: str) -> str:
    """What to store for ``secret``: sealed, or in clear when no key is configured."""
    return secret if keyring is None else seal_text(keyring, secret, context=_context(org_id))


def open_secret(keyring: Keyring | None, org_id: str, stored: str) -> str:
    """The secret that signs; Undecryptable when it does not open."""
    return open_text(keyring, stored, context=_context(org_id))


@dataclass
class Resealed:
    resealed: int = 0  # sealed anew under the current key (clear ones included)
    current: int = 0  # already under the current key
    unreadable: list[str] = field(default_factory=list)  # organizations whose secret does not open


def reseal_secrets(session: Session | Connection, keyring: Keyring) -> Resealed:
    """Seal every webhook secret under the keyring's current key (clear ones, and those under older
    keys), in the caller's transaction."""
    result = Resealed()
    rows = session.execute(
        select(_ORGS.c.id, _ORGS.c.webhook_secret).where(_ORGS.c.webhook_secret.is_not(None))
    )
    for org_id, stored in rows.all():
        if text_key_id(stored) == keyring.current_id:
            result.current += 1
            continue
        try:
            secret = open_secret(keyring, org_id, stored)
        except Undecryptable:
            result.unreadable.append(org_id)
            continue
        session.execute(
            update(_ORGS)
            .where(_ORGS.c.id == org_id)
            .values(webhook_secret=seal_secret(keyring, org_id, secret))
        )
        result.resealed += 1
    return result


def secret_key_ids(session: Session | Connection) -> Counter[str]:
    """How many webhook secrets each key seals (``"clear"``: not sealed)."""
    stored = session.scalars(select(_ORGS.c.webhook_secret).where(_ORGS.c.webhook_secret.is_not(None)))
    return Counter(text_key_id(value) or "clear" for value in stored)

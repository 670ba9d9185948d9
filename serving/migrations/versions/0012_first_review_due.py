"""Cases keep the due time of their first review (``first_review_due_at``): a case that returns to the
queue (new photos, a follow-up) gets a new ``review_due_at`` for its place in the queue, but the SLA
figures judge the first review by the due time it had. And an emergency is never an ordinary queued row.

Existing cases take their ``review_due_at``, except those whose due time a return reset after their
first review (a ``case.photos.add`` audit row after ``first_reviewed_at``): they take ``queued_at`` plus
their organization's SLA hours for the tier they had when first claimed (the claim's audit row; else
the tier at submission). Cases of tier EMERGENCY left ``queued`` by a release or an expired lease go
back to ``emergency``, each move audited as the system's.

Revision ID: 0012
Revises: 0011
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"

TS = sa.DateTime(timezone=True)
_cases = sa.table(
    "cases",
    sa.column("id", sa.String(36)),
    sa.column("organization_id", sa.String(36)),
    sa.column("status", sa.String(32)),
    sa.column("tier", sa.String(16)),
    sa.column("submitted_tier", sa.String(16)),
    sa.column("queued_at", TS),
    sa.column("review_due_at", TS),
    sa.column("first_review_due_at", TS),
    sa.column("first_reviewed_at", TS),
    sa.column("last_queued_at", TS),
)
_orgs = sa.table("organizations", sa.column("id", sa.String(36)), sa.column("sla_hours", sa.JSON()))
_audit = sa.table(
    "audit_events",
    sa.column("id"),
    sa.column("at", TS),
    sa.column("organization_id", sa.String(36)),
    sa.column("actor_role", sa.String(32)),
    sa.column("action", sa.String(64)),
    sa.column("resource_type", sa.String(32)),
    sa.column("resource_id", sa.String(64)),
    sa.column("outcome", sa.String(32)),
    sa.column("detail", sa.JSON()),
)
#: the default review hours per tier at this revision (``serving.orgs.sla.SlaPolicy``)
_DEFAULT_HOURS = {"EMERGENCY": 1.0, "URGENT": 4.0, "PRIORITY": 24.0, "ROUTINE": 48.0}


def upgrade() -> None:
    # a plain ADD COLUMN (no table copy on SQLite); the ORM fills it on every insert
    op.add_column("cases", sa.Column("first_review_due_at", TS, nullable=True))
    conn = op.get_bind()
    conn.execute(sa.update(_cases).values(first_review_due_at=_cases.c.review_due_at))
    _restore_reset_due_times(conn)
    _pin_queued_emergencies(conn)


def _restore_reset_due_times(conn) -> None:
    returned = conn.execute(
        sa.select(
            _cases.c.id, _cases.c.organization_id, _cases.c.queued_at, _cases.c.submitted_tier, _cases.c.tier
        ).where(
            _cases.c.first_reviewed_at.is_not(None),
            _cases.c.last_queued_at.is_not(None),
            _cases.c.queued_at.is_not(None),
            _cases.c.review_due_at > _cases.c.first_reviewed_at,
            sa.exists().where(
                _audit.c.resource_type == "case",
                _audit.c.resource_id == _cases.c.id,
                _audit.c.action == "case.photos.add",
                _audit.c.at > _cases.c.first_reviewed_at,
            ),
        )
    ).all()
    if not returned:
        return
    policies = {
        org_id: hours or {} for org_id, hours in conn.execute(sa.select(_orgs.c.id, _orgs.c.sla_hours))
    }
    claimed_as: dict[str, str] = {}
    claims = conn.execute(
        sa.select(_audit.c.resource_id, _audit.c.detail)
        .where(
            _audit.c.action == "case.claim",
            _audit.c.resource_type == "case",
            _audit.c.resource_id.in_([r.id for r in returned]),
        )
        .order_by(_audit.c.id)
    )
    for case_id, detail in claims:
        tier = detail.get("tier") if isinstance(detail, dict) else None
        if tier in _DEFAULT_HOURS:
            claimed_as.setdefault(case_id, tier)  # the first claim: the first review
    restored = []
    for r in returned:
        tier = claimed_as.get(r.id) or r.submitted_tier or r.tier
        hours = policies.get(r.organization_id, {}).get(tier) or _DEFAULT_HOURS[tier]
        restored.append({"case_id": r.id, "due": r.queued_at + timedelta(hours=float(hours))})
    conn.execute(
        sa.update(_cases)
        .where(_cases.c.id == sa.bindparam("case_id"))
        .values(first_review_due_at=sa.bindparam("due")),
        restored,
    )


def _pin_queued_emergencies(conn) -> None:
    stray = conn.execute(
        sa.select(_cases.c.id, _cases.c.organization_id).where(
            _cases.c.status == "queued", _cases.c.tier == "EMERGENCY"
        )
    ).all()
    if not stray:
        return
    conn.execute(sa.update(_cases).where(_cases.c.id.in_([r.id for r in stray])).values(status="emergency"))
    now = datetime.now(UTC)
    reason = "an emergency goes back to its pin, not to the queue (migration 0012)"
    conn.execute(
        sa.insert(_audit),
        [
            {
                "at": now,
                "organization_id": r.organization_id,
                "actor_role": "system",
                "action": "case.transition",
                "resource_type": "case",
                "resource_id": r.id,
                "outcome": "ok",
                "detail": {"from": "queued", "to": "emergency", "reason": reason},
            }
            for r in stray
        ],
    )


def downgrade() -> None:
    # a plain DROP COLUMN (SQLite >= 3.35): a batch table copy of a table every other one refers to;
    # the emergencies moved back to their pin stay there (every earlier revision knows the status)
    op.execute("ALTER TABLE cases DROP COLUMN first_review_due_at")

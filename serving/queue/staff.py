"""A reviewer leaves: their access ends and every case they hold goes back to the queue."""

from __future__ import annotations

from sqlalchemy.orm import Session

from serving.audit import Actor, record
from serving.db import utcnow
from serving.orgs.models import Organization
from serving.people.models import User
from serving.people.service import revoke_access
from serving.queue.expiry import return_cases_held_by


def deactivate_user(session: Session, *, org: Organization, user_id: str, actor: Actor) -> User:
    """The user can no longer sign in (their keys are revoked) and the cases they hold go back
    to the queue."""
    user = revoke_access(session, org=org, user_id=user_id, now=utcnow())
    returned = return_cases_held_by(session, user_id=user.id, actor=actor, reason="reviewer deactivated")
    record(
        session,
        actor=actor,
        action="user.deactivate",
        resource_type="user",
        resource_id=user.id,
        detail={"cases_returned": returned},
    )
    return user

"""Video visits: a dermatologist escalates an asynchronous case to a live video visit (e.g. before
starting isotretinoin), and then goes on with the same case.

The flow:

1. The holder of the case's lease (or an admin) proposes 1 to 5 future times and a reason
   (``propose``): the case moves from ``in_review`` or ``diagnosed`` to ``awaiting_visit`` and
   ``case.video_visit_proposed`` tells the patient, with the join link built from the organization's
   video URL template (``join_url``; without a template the event has no link and says so).
2. The patient picks one of the times through the intake system (``confirm``):
   ``case.video_visit_confirmed``. Picking again, among the proposed times, moves the appointment.
3. After the visit, the dermatologist who proposed it (or an admin) marks it held (``complete``): the
   case returns to ``in_review`` under that dermatologist's lease, to diagnose, prescribe, close as
   usual (``case.video_visit_completed``).
   Or the visit is cancelled (``cancel``, by that dermatologist, an admin or the patient through the
   intake system): the case goes back to the queue (``case.video_visit_cancelled``).

While it waits for the visit the case is in no one's hands (proposing ends the lease, as scheduling a
follow-up does: the visit may be days away); only the dermatologist who proposed the visit (or an
admin) may complete or cancel it (``proposed_by``, ``require_proposer``). A visit counts only while
its case waits for it (``open_visit``): a case that moved on otherwise (an emergency photo, an admin's
closure) leaves its visit as it was, and no one can confirm or complete it any more.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from string import Formatter
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.audit import Actor, record
from serving.auth import Client
from serving.cases.leases import start_lease
from serving.cases.models import Case
from serving.cases.states import require_status, return_for_review
from serving.cases.status import CaseStatus
from serving.cases.visibility import load_case
from serving.consults.common import acting_on, add_to_case, move, record_action, rows_of, sender_of
from serving.consults.models import VideoVisit
from serving.consults.visit_schemas import (
    VideoVisitCancelIn,
    VideoVisitCompleteIn,
    VideoVisitConfirmIn,
    VideoVisitIn,
)
from serving.db import new_id
from serving.errors import DomainError
from serving.events import types
from serving.orgs.models import Organization
from serving.orgs.service import Role
from serving.people.models import User
from serving.queue.service import DEFAULT_LEASE

S = CaseStatus
PROPOSED, CONFIRMED, COMPLETED, CANCELLED = "proposed", "confirmed", "completed", "cancelled"
OPEN = (PROPOSED, CONFIRMED)
#: the farthest ahead a visit may be proposed
MAX_AHEAD = timedelta(days=90)
#: how long before the confirmed time the visit may be marked held (the dermatologist joins early)
EARLY_START = timedelta(minutes=15)
#: what a video URL template may name
PLACEHOLDERS = frozenset({"visit_id", "case_id"})
NO_LINK_NOTE = (
    "The practice has set no video link (dermatriage orgs video-url): it sends the patient the link "
    "for the visit itself."
)


# -- pure rules -------------------------------------------------------------------------------


def check_template(template: str) -> str:
    """A video URL template, stripped: an http(s) URL whose placeholders are only {visit_id} and
    {case_id}. Raises ValueError saying what to fix."""
    template = template.strip()
    if len(template) > 1000:
        raise ValueError("the template is longer than 1000 characters")
    try:
        fields = {name for _, name, _, _ in Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValueError(f"{template!r}: {exc}; write a literal brace as {{{{ or }}}}") from exc
    unknown = sorted(fields - PLACEHOLDERS)
    if unknown:
        raise ValueError(f"unknown placeholders {unknown}: use only {{visit_id}} and {{case_id}}")
    try:
        example = template.format(visit_id="v", case_id="c")
    except ValueError as exc:  # a format spec, e.g. {visit_id:d}
        raise ValueError(f"{template!r}: {exc}; write the placeholders bare, e.g. {{visit_id}}") from exc
    if len(template.format(visit_id="x" * 36, case_id="x" * 36)) > 2000:
        raise ValueError("the links the template makes are longer than 2000 characters")
    parts = urlsplit(example)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(
            f"{template!r} is not an http(s) URL, e.g. https://meet.example.com/derm-{{visit_id}}"
        )
    return template


def join_url(template: str | None, *, visit_id: str, case_id: str) -> str | None:
    """The join link of a visit (None when the organization has no template)."""
    if not template:
        return None
    return template.format(visit_id=visit_id, case_id=case_id)


def checked_times(times: Sequence[datetime], now: datetime) -> list[datetime]:
    """The proposed times in UTC, earliest first, duplicates dropped; a time not in the future, or more
    than MAX_AHEAD ahead, is refused naming the field."""
    for i, t in enumerate(times):
        if t <= now:  # compared before any conversion: an absurd year cannot overflow
            raise _times_problem(
                "time_in_past", f"proposed_times[{i}] ({t.isoformat()}) is not in the future"
            )
        if t > now + MAX_AHEAD:
            raise _times_problem(
                "time_too_far", f"proposed_times[{i}] ({t.isoformat()}) is more than 90 days ahead"
            )
    return sorted({t.astimezone(UTC) for t in times})


def _times_problem(code: str, message: str) -> DomainError:
    return DomainError(
        422,
        code,
        message,
        fix="Give 1 to 5 times in the next 90 days, each with its time zone, "
        "e.g. '2030-05-04T15:30:00+02:00'.",
        field="proposed_times",
    )


def open_visit(case: Case, visits: Iterable[VideoVisit]) -> VideoVisit | None:
    """The visit the case waits for (the latest open one), None when it waits for none."""
    if case.status is not S.awaiting_visit:
        return None
    waiting = [v for v in visits if v.status in OPEN]
    return max(waiting, key=lambda v: (v.created_at, v.id)) if waiting else None


def proposed_by(case: Case, visits: Iterable[VideoVisit]) -> str | None:
    """Who may complete or cancel the visit ``case`` waits for without holding it: the user who
    proposed it (None: the case waits for no visit, or a key without a user proposed it)."""
    visit = open_visit(case, visits)
    return visit.proposed_by_user_id if visit else None


def due(visit: VideoVisit, now: datetime) -> bool:
    """Whether the visit may be marked held now: the patient picked a time and it is at most
    EARLY_START away."""
    return visit.confirmed_time is not None and now >= visit.confirmed_time - EARLY_START


# -- the organization's setting ---------------------------------------------------------------


def set_url_template(
    session: Session, *, org: Organization, template: str | None, actor: Actor
) -> str | None:
    """Set (None: remove) the organization's video URL template, audited. Raises ValueError for a
    template that is not one (``check_template``)."""
    org.video_url_template = None if template is None else check_template(template)
    record(
        session,
        actor=actor,
        action="org.video_url.set",
        resource_type="organization",
        resource_id=org.id,
        detail={"template": org.video_url_template},
    )
    return org.video_url_template


# -- the service ------------------------------------------------------------------------------


def propose(session: Session, *, client: Client, case_id: str, data: VideoVisitIn, now: datetime):
    """The holder of the case (or an admin) proposes a video visit: the case waits for it in
    ``awaiting_visit``, held by no one. Returns (case, visit)."""
    case = acting_on(
        session, client, case_id, now, allowed=(S.in_review, S.diagnosed), action="get a video visit"
    )
    times = checked_times(data.proposed_times, now)
    visit_id = new_id()
    template = session.scalar(
        select(Organization.video_url_template).where(Organization.id == case.organization_id)
    )
    visit = add_to_case(
        session,
        VideoVisit,
        case,
        id=visit_id,
        proposed_times=[t.isoformat() for t in times],
        duration_minutes=data.duration_minutes,
        reason=data.reason,
        status=PROPOSED,
        join_url=join_url(template, visit_id=visit_id, case_id=case.id),
        created_at=now,
        proposed_by_user_id=client.user_id,
        proposed_by_key_id=client.key_id,
    )
    move(session, case, S.awaiting_visit, client=client, reason="video visit proposed")
    record_action(
        session,
        client=client,
        case=case,
        action="consult.video_visit.propose",
        detail={
            "visit_id": visit.id,
            "proposed_times": visit.proposed_times,
            "link": visit.join_url is not None,
        },
        event=(
            types.CASE_VIDEO_VISIT_PROPOSED,
            {**_payload(visit), "proposed_times": visit.proposed_times, "reason": visit.reason},
        ),
    )
    return case, visit


def confirm(session: Session, *, client: Client, case_id: str, data: VideoVisitConfirmIn, now: datetime):
    """The patient (through the intake system) picks one of the proposed times. Returns (case, visit)."""
    case, visit = _waiting(session, client, case_id, action="have its video visit confirmed")
    picked = next((t for t in visit.times if t == data.time), None)
    if picked is None:
        raise DomainError(
            422,
            "time_not_proposed",
            f"{data.time.isoformat()} is not one of the times proposed for the visit",
            fix=f"Pick one of the proposed times: {', '.join(visit.proposed_times)}.",
            field="time",
        )
    if picked <= now:
        raise DomainError(
            422,
            "time_passed",
            f"the proposed time {picked.isoformat()} has passed",
            fix="Pick a proposed time still ahead, or cancel the visit "
            f"(POST /v1/cases/{case.id}/video-visit/cancel) so that the dermatologist can propose others.",
            field="time",
        )
    visit.status, visit.confirmed_time, visit.confirmed_at = CONFIRMED, picked, now
    record_action(
        session,
        client=client,
        case=case,
        action="consult.video_visit.confirm",
        detail={"visit_id": visit.id, "time": picked.isoformat()},
        event=(types.CASE_VIDEO_VISIT_CONFIRMED, _payload(visit)),
    )
    return case, visit


def complete(
    session: Session,
    *,
    client: Client,
    case_id: str,
    data: VideoVisitCompleteIn,
    now: datetime,
    lease: timedelta = DEFAULT_LEASE,
):
    """The visit took place: the case returns to ``in_review``, held by the dermatologist who marks it
    (an admin: by the dermatologist who proposed it), to diagnose, prescribe and close. Returns
    (case, visit)."""
    case, visit = _waiting(session, client, case_id, action="have its video visit completed")
    require_proposer(session, case=case, visit=visit, client=client, action="complete")
    if visit.confirmed_time is None:
        raise DomainError(
            409,
            "video_visit_not_confirmed",
            "the patient has not picked a time for the visit yet",
            fix="Wait for the patient's choice (POST /v1/cases/{id}/video-visit/confirm by the intake "
            "system), or cancel the visit (POST /v1/cases/{id}/video-visit/cancel).",
            field="status",
        )
    if not due(visit, now):
        raise DomainError(
            409,
            "video_visit_not_due",
            f"the visit is at {visit.confirmed_time.isoformat()}: it cannot be marked held before "
            f"{(visit.confirmed_time - EARLY_START).isoformat()}",
            fix="Mark the visit held once it has taken place.",
            field="status",
        )
    visit.status, visit.completed_at, visit.completion_note = COMPLETED, now, data.note
    move(session, case, S.in_review, client=client, reason="video visit held")
    holder = client.user_id if client.role is Role.dermatologist else visit.proposed_by_user_id
    if holder is not None:
        start_lease(case, user_id=holder, now=now, duration=lease)
    record_action(
        session,
        client=client,
        case=case,
        action="consult.video_visit.complete",
        detail={"visit_id": visit.id, "lease_holder": holder},
        event=(types.CASE_VIDEO_VISIT_COMPLETED, {"visit_id": visit.id, "time": _iso(visit.confirmed_time)}),
    )
    return case, visit


def cancel(session: Session, *, client: Client, case_id: str, data: VideoVisitCancelIn, now: datetime):
    """The visit will not happen (cancelled by the dermatologist who proposed it, an admin, or the
    patient through the intake system): the case goes back to the queue. Returns (case, visit)."""
    case, visit = _waiting(session, client, case_id, action="have its video visit cancelled")
    if client.role is not Role.intake:
        require_proposer(session, case=case, visit=visit, client=client, action="cancel")
    visit.status, visit.cancelled_at = CANCELLED, now
    visit.cancelled_by, visit.cancel_reason = sender_of(client), data.reason
    back_to = return_for_review(session, case, actor=client.actor, reason="video visit cancelled")
    record_action(
        session,
        client=client,
        case=case,
        action="consult.video_visit.cancel",
        detail={"visit_id": visit.id, "cancelled_by": visit.cancelled_by, "status": back_to.value},
        event=(
            types.CASE_VIDEO_VISIT_CANCELLED,
            {"visit_id": visit.id, "cancelled_by": visit.cancelled_by, "reason": data.reason},
        ),
    )
    return case, visit


class VisitOwnerRequired(DomainError):
    """Someone other than the dermatologist who proposed a case's video visit (or an admin) tried to
    complete or cancel it."""

    def __init__(self, case: Case, *, action: str, proposer: str):
        super().__init__(
            409,
            "video_visit_owner_required",
            f"case {case.id!r} is waiting for the video visit {proposer} proposed; only {proposer} or "
            f"an admin can {action} it",
            fix=f"Ask {proposer} or an admin to {action} the visit.",
            field="lease",
        )


def require_proposer(session: Session, *, case: Case, visit: VideoVisit, client: Client, action: str) -> None:
    """The caller may complete or cancel ``visit``: an admin, or the dermatologist who proposed it;
    anyone else gets VisitOwnerRequired naming who can."""
    if client.role is Role.admin:
        return
    proposer = visit.proposed_by_user_id
    if client.user_id is not None and client.user_id == proposer:
        return
    name = session.scalar(select(User.name).where(User.id == proposer)) if proposer else None
    raise VisitOwnerRequired(case, action=action, proposer=name or "the dermatologist who proposed it")


def _waiting(session: Session, client: Client, case_id: str, *, action: str) -> tuple[Case, VideoVisit]:
    """The caller's case, locked, waiting for a video visit, and that visit."""
    case = load_case(session, client=client, case_id=case_id, for_update=True)
    require_status(case, S.awaiting_visit, action=action)
    visit = open_visit(case, of_case(session, case=case))
    if visit is None:  # a case of status awaiting_visit always has one; say so if not
        raise DomainError(
            409,
            "no_video_visit",
            f"case {case.id!r} has no open video visit",
            fix="Reload the case.",
            field="status",
        )
    return case, visit


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _payload(visit: VideoVisit) -> dict:
    return {
        "visit_id": visit.id,
        "time": _iso(visit.confirmed_time),
        "duration_minutes": visit.duration_minutes,
        "join_url": visit.join_url,
        "join_url_note": None if visit.join_url else NO_LINK_NOTE,
    }


def of_case(session: Session, *, case: Case) -> list[VideoVisit]:
    return rows_of(session, VideoVisit, case, VideoVisit.created_at, VideoVisit.id)


def read(session: Session, *, client: Client, case_id: str) -> tuple[Case, list[VideoVisit]]:
    """The case's video visits (oldest first), audited."""
    case = load_case(session, client=client, case_id=case_id)
    visits = of_case(session, case=case)
    record(
        session,
        actor=client.actor,
        action="consult.video_visit.read",
        resource_type="case",
        resource_id=case.id,
        detail={"visits": [v.id for v in visits]},
    )
    return case, visits

"""The cases waiting on the patient, for admins: new photos asked (a retake), a question asked, a
follow-up scheduled, a video visit proposed (the patient to pick a time, or the visit itself), or no
usable photo yet at intake; each with what it waits for and since when
(the dermatologist's request, the follow-up's scheduling, the case's intake), oldest first. Read with
the caller's visibility (``visible_cases``) and audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.audit import record
from serving.auth import Client
from serving.cases.models import Case
from serving.cases.status import CaseStatus
from serving.cases.visibility import visible_cases
from serving.consults.models import FollowUp, Message, VideoVisit
from serving.consults.video_visits import CONFIRMED, PROPOSED

S = CaseStatus
WAITING = (S.awaiting_patient, S.follow_up_scheduled, S.awaiting_retake, S.awaiting_visit)
ASKED = {"retake_request": "new photos (retake)", "question": "an answer to a question"}


@dataclass(frozen=True)
class WaitingCase:
    case: Case
    waits_for: str
    since: datetime
    age_s: int
    #: a follow-up's due time, a video visit's confirmed time (None for the rest)
    due_at: datetime | None = None


def waiting_on_patient(session: Session, *, client: Client, now: datetime) -> list[WaitingCase]:
    cases = list(session.scalars(visible_cases(client).where(Case.status.in_(WAITING))))
    ids = [c.id for c in cases]
    asked: dict[str, Message] = {}
    follow_ups: dict[str, FollowUp] = {}
    visits: dict[str, VideoVisit] = {}
    if ids:
        for message in session.scalars(
            select(Message)
            .where(Message.case_id.in_(ids), Message.kind.in_(tuple(ASKED)))
            .order_by(Message.created_at, Message.id)
        ):
            asked[message.case_id] = message  # the latest request wins
        for follow_up in session.scalars(
            select(FollowUp)
            .where(FollowUp.case_id.in_(ids), FollowUp.status == "scheduled")
            .order_by(FollowUp.created_at, FollowUp.id)
        ):
            follow_ups[follow_up.case_id] = follow_up
        for visit in session.scalars(
            select(VideoVisit)
            .where(VideoVisit.case_id.in_(ids), VideoVisit.status.in_((PROPOSED, CONFIRMED)))
            .order_by(VideoVisit.created_at, VideoVisit.id)
        ):
            visits[visit.case_id] = visit  # the latest open visit
    out = []
    for case in cases:
        due = None
        if case.status is S.follow_up_scheduled and case.id in follow_ups:
            row = follow_ups[case.id]
            waits_for, since, due = "follow-up photos", row.created_at, row.due_at
        elif case.status is S.awaiting_patient and case.id in asked:
            message = asked[case.id]
            waits_for, since = ASKED[message.kind], message.created_at
        elif case.status is S.awaiting_visit and case.id in visits:
            visit = visits[case.id]
            if visit.confirmed_time is None:
                waits_for, since = "the patient to pick a video visit time", visit.created_at
            else:
                waits_for, since, due = "the video visit", visit.created_at, visit.confirmed_time
        elif case.status is S.awaiting_retake:
            waits_for, since = "a usable first photo", case.created_at
        else:
            waits_for, since = case.status.value.replace("_", " "), case.updated_at
        out.append(WaitingCase(case, waits_for, since, int((now - since).total_seconds()), due))
    out.sort(key=lambda w: (w.since, w.case.id))
    record(
        session,
        actor=client.actor,
        action="web.waiting.read",
        resource_type="case",
        resource_id=None,
        detail={"cases": len(out)},
    )
    return out

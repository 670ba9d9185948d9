"""Where a case goes from review besides a diagnosis: back to the patient for new photos (retake
request), to an in-person visit (referral), or closed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.auth import Client
from serving.cases.models import Case, Photo
from serving.cases.states import can_move, require_status
from serving.cases.status import CaseStatus
from serving.cases.visibility import load_case
from serving.consults import drafts, follow_ups
from serving.consults.common import acting_on, add_to_case, authored, move, record_action, rows_of, sender_of
from serving.consults.models import Disposition, Message
from serving.consults.schemas import CloseIn, ReferralIn, RetakeRequestIn
from serving.errors import DomainError
from serving.events import types
from serving.queue.service import require_lease

S = CaseStatus


def request_retake(session: Session, *, client: Client, case_id: str, data: RetakeRequestIn, now: datetime):
    """Ask the patient for new photos: the case waits in ``awaiting_patient`` until they arrive (through
    POST /v1/cases/{id}/photos) and then returns to the queue. Returns (case, message)."""
    case = acting_on(session, client, case_id, now, allowed=(S.in_review,), action="get a retake request")
    photo_ids = list(dict.fromkeys(data.photo_ids))
    if photo_ids:
        known = set(
            session.scalars(select(Photo.id).where(Photo.case_id == case.id, Photo.id.in_(photo_ids)))
        )
        unknown = [p for p in photo_ids if p not in known]
        if unknown:
            raise DomainError(
                422,
                "unknown_photo",
                f"photos {unknown} are not photos of this case",
                fix="Name photos from the case's 'photos' list, or leave 'photo_ids' out.",
                field="photo_ids",
            )
    message = add_to_case(
        session,
        Message,
        case,
        sender=sender_of(client),
        kind="retake_request",
        body=data.instructions,
        detail={"reasons": list(data.reasons), "photo_ids": photo_ids},
        attachments=[],
        **authored(client, now, by="sender"),
    )
    move(session, case, S.awaiting_patient, client=client, reason="retake requested by the dermatologist")
    record_action(
        session,
        client=client,
        case=case,
        action="consult.retake.request",
        detail={"message_id": message.id, "reasons": list(data.reasons), "photo_ids": photo_ids},
        event=(
            types.CASE_RETAKE_REQUIRED,
            {
                "requested_by": "dermatologist",
                "message_id": message.id,
                "instructions": data.instructions,
                "reasons": list(data.reasons),
                "photo_ids": photo_ids,
            },
        ),
    )
    return case, message


def _can_reach(target: CaseStatus) -> tuple[CaseStatus, ...]:
    return tuple(s for s in S if can_move(s, target))


def _disposition(
    session: Session, *, client: Client, case: Case, kind: str, now: datetime, **fields
) -> Disposition:
    return add_to_case(session, Disposition, case, kind=kind, **fields, **authored(client, now))


def refer(session: Session, *, client: Client, case_id: str, data: ReferralIn, now: datetime):
    """The patient is to be seen in person. Returns (case, disposition)."""
    case = acting_on(
        session, client, case_id, now, allowed=_can_reach(S.referred_in_person), action="be referred"
    )
    drafts.require_none_pending(session, case=case, action="be referred")
    row = _disposition(
        session,
        client=client,
        case=case,
        kind="referral",
        now=now,
        reason=data.reason,
        urgency=data.urgency,
        specialty=data.specialty,
        instructions=data.instructions,
    )
    follow_ups.cancel_open(session, case=case)
    move(session, case, S.referred_in_person, client=client, reason=f"referred in person ({data.urgency})")
    record_action(
        session,
        client=client,
        case=case,
        action="consult.referral.create",
        detail={"disposition_id": row.id, "urgency": data.urgency, "specialty": data.specialty},
        event=(
            types.CASE_REFERRED,
            {
                "referral_id": row.id,
                "reason": data.reason,
                "urgency": data.urgency,
                "specialty": data.specialty,
                "instructions": data.instructions,
            },
        ),
    )
    return case, row


def _to_close(session: Session, client: Client, case_id: str, now: datetime) -> Case:
    """The case to close, locked: in a status that may be closed, and the caller holds its lease, or,
    for a case waiting for its follow-up (held by no one), is the dermatologist who scheduled it."""
    case = load_case(session, client=client, case_id=case_id, for_update=True)
    require_status(case, *_can_reach(S.closed), action="be closed")
    if not follow_ups.require_scheduler(session, case=case, client=client, action="close"):
        require_lease(session, case=case, client=client, now=now)
    return case


def close(session: Session, *, client: Client, case_id: str, data: CloseIn, now: datetime):
    """Close the case for good. Returns (case, disposition).

    The holder of the case's lease (or an admin) closes it. A case waiting for follow-up photos is
    held by no one: the dermatologist who scheduled the follow-up may close it all the same (e.g. the
    patient reports the lesion healed, or moved away); another dermatologist is refused with a 409
    (``follow_up_owner_required``) naming who can. Closing cancels the open follow-up explicitly: the
    follow-up turns ``cancelled`` and the ``case.closed`` event lists it (``follow_ups_cancelled``), so
    the intake system stops asking the patient for photos and ``follow_up.due`` never fires for it.
    """
    case = _to_close(session, client, case_id, now)
    drafts.require_none_pending(session, case=case, action="be closed")
    row = _disposition(session, client=client, case=case, kind="closure", now=now, reason=data.reason)
    cancelled = [f.id for f in follow_ups.cancel_open(session, case=case)]
    move(session, case, S.closed, client=client, reason="closed")
    record_action(
        session,
        client=client,
        case=case,
        action="consult.case.close",
        detail={"disposition_id": row.id, "follow_ups_cancelled": cancelled},
        event=(types.CASE_CLOSED, {"reason": data.reason, "follow_ups_cancelled": cancelled}),
    )
    return case, row


def of_case(session: Session, *, case: Case) -> list[Disposition]:
    return rows_of(session, Disposition, case, Disposition.created_at, Disposition.id)

"""The thread between dermatologist and patient (who writes through the intake system), with image
attachments. Attachments go through the same intake pipeline as case photos (checked, decoded,
every piece of metadata stripped) and into the same content-addressed store; files are written
before the rows that name them and removed again if the transaction fails.

A dermatologist's question waits for the patient: the case leaves review for ``awaiting_patient``
(the lease ends) and the patient's reply puts it back in the queue.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from model.intake import IngestedPhoto, PhotoLimits, PhotoRejected
from serving.auth import Client
from serving.cases.leases import LEASED_STATUSES, lease_active
from serving.cases.models import Case
from serving.cases.states import IllegalMove, require_status, return_for_review
from serving.cases.status import CaseStatus
from serving.cases.visibility import load_case
from serving.consults.common import add_to_case, audit, authored, move, record_action, sender_of
from serving.consults.models import Message, MessageAttachment
from serving.consults.schemas import AttachmentIn, MessageIn, message_out
from serving.db import transaction
from serving.errors import DomainError, NotFound
from serving.events import types
from serving.limits.budget import MemoryBudget, ingest_within
from serving.orgs.service import Role
from serving.photos.files import StoredPhotos, remove_orphans, restore_missing, store_photos
from serving.photos.store import PhotoStore
from serving.queue.service import require_lease

S = CaseStatus


def decode_attachments(
    items: Sequence[AttachmentIn], *, limits: PhotoLimits, budget: MemoryBudget
) -> list[IngestedPhoto]:
    """Decode and sanitize every attachment in memory (nothing written), each within the process's
    decode-memory ``budget``; DomainError naming the item."""
    photos = []
    for index, item in enumerate(items):
        field = f"attachments[{index}]"
        if len(item.content_base64) > (limits.max_bytes * 4) // 3 + 8:
            raise DomainError(
                413,
                "photo_too_large",
                f"{field} is larger than the {limits.max_bytes // (1024 * 1024)} MB limit",
                fix="Send a smaller photo: a lower size or quality on the phone, or crop it.",
                field=f"{field}.content_base64",
            )
        try:
            data = base64.b64decode(item.content_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise DomainError(
                422,
                "invalid_base64",
                f"{field}.content_base64 is not valid base64",
                fix="Send the image bytes base64-encoded (standard alphabet, with padding).",
                field=f"{field}.content_base64",
            ) from exc
        try:
            photos.append(
                ingest_within(
                    budget, data, filename=item.filename or f"attachment {index + 1}", limits=limits
                )
            )
        except PhotoRejected as exc:
            raise DomainError(exc.status_code, exc.code, exc.message, fix=exc.fix, field=field) from exc
    return photos


def _check_sender(session: Session, *, client: Client, case: Case, data: MessageIn, now: datetime) -> None:
    """Who may write now. Patients: any case not closed, no questions. Dermatologists: a question needs
    the lease on a case in review; a message needs the lease while the case is held or in review."""
    if case.status is S.closed:
        raise IllegalMove(
            case.status,
            "message",
            message=f"a case in status {case.status.value!r} cannot get messages; the case is closed",
            fix="Check the case's status.",
        )
    if client.role is Role.intake:
        if data.question:
            raise DomainError(
                422,
                "patients_do_not_ask",
                "'question' is for dermatologists; a patient's message is an answer or a note",
                fix="Leave 'question' out.",
                field="question",
            )
        return
    if data.question:
        require_lease(session, case=case, client=client, now=now)
        require_status(case, S.in_review, action="get a question (the case must be in review)")
    elif case.status in LEASED_STATUSES or lease_active(case, now):
        require_lease(session, case=case, client=client, now=now)


def _insert(
    session: Session, *, client: Client, case: Case, data: MessageIn, stored: StoredPhotos, now: datetime
) -> Message:
    kind = "question" if data.question else "message"
    message = add_to_case(
        session,
        Message,
        case,
        sender=sender_of(client),
        kind=kind,
        body=data.body,
        **authored(client, now, by="sender"),
    )
    for position, columns in enumerate(stored.columns(), 1):
        owner = {"message_id": message.id, "organization_id": case.organization_id}
        session.add(MessageAttachment(**columns, **owner, position=position, created_at=now))
    session.flush()
    session.refresh(message, ["attachments"])
    return message


def _post(
    session: Session, *, client: Client, case_id: str, data: MessageIn, stored: StoredPhotos, now: datetime
):
    case = load_case(session, client=client, case_id=case_id, for_update=True)
    _check_sender(session, client=client, case=case, data=data, now=now)
    message = _insert(session, client=client, case=case, data=data, stored=stored, now=now)
    if client.role is Role.intake:
        if case.status is S.awaiting_patient:
            return_for_review(session, case, actor=client.actor, reason="the patient answered")
    elif data.question:
        move(session, case, S.awaiting_patient, client=client, reason="question to the patient")
    event = None
    if client.role is not Role.intake:  # the patient's own words need no event
        payload = {
            "message_id": message.id,
            "body": message.body,
            "attachments": [a.model_dump(mode="json") for a in message_out(message).attachments],
        }
        event = (types.CASE_QUESTION_ASKED if data.question else types.MESSAGE_SENT, payload)
    record_action(
        session,
        client=client,
        case=case,
        action="consult.message.create",
        detail={"message_id": message.id, "kind": message.kind, "attachments": len(stored.keys)},
        event=event,
    )
    return case, message


def post_message(
    sessions: sessionmaker[Session],
    *,
    store: PhotoStore,
    limits: PhotoLimits,
    budget: MemoryBudget,
    client: Client,
    case_id: str,
    data: MessageIn,
    now: datetime,
) -> tuple[Case, Message]:
    """Add a message (and its attachments) to the case's thread. One transaction for the rows, the
    state move and the event; attachment files are written first and removed if it fails."""
    with transaction(sessions) as session:  # refuse early, before any image work
        case = load_case(session, client=client, case_id=case_id)
        _check_sender(session, client=client, case=case, data=data, now=now)
    stored = store_photos(store, decode_attachments(data.attachments, limits=limits, budget=budget))
    try:
        with transaction(sessions) as session:
            case, message = _post(session, client=client, case_id=case_id, data=data, stored=stored, now=now)
    except BaseException:
        remove_orphans(sessions, store, stored.created)
        raise
    restore_missing(store, stored)
    return case, message


def thread(session: Session, *, client: Client, case_id: str) -> list[Message]:
    case = load_case(session, client=client, case_id=case_id)
    messages = list(
        session.scalars(
            select(Message).where(Message.case_id == case.id).order_by(Message.created_at, Message.id)
        )
    )
    audit(
        session,
        client=client,
        action="consult.messages.read",
        resource_type="case",
        resource_id=case.id,
        detail={"messages": len(messages)},
    )
    return messages


def attachment(
    session: Session, *, client: Client, case_id: str, message_id: str, attachment_id: str, thumbnail: bool
) -> MessageAttachment:
    load_case(session, client=client, case_id=case_id)
    found = session.scalar(
        select(MessageAttachment)
        .join(Message, Message.id == MessageAttachment.message_id)
        .where(
            MessageAttachment.id == attachment_id,
            MessageAttachment.message_id == message_id,
            Message.case_id == case_id,
            MessageAttachment.organization_id == client.organization.id,
        )
    )
    if found is None:
        raise NotFound("attachment", attachment_id)
    audit(
        session,
        client=client,
        action="consult.attachment.thumbnail.read" if thumbnail else "consult.attachment.read",
        resource_type="message_attachment",
        resource_id=found.id,
    )
    return found

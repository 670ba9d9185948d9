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
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session, sessionmaker

from serving.auth import Client
from serving.cases.models import Case, Photo
from serving.cases.states import CaseStatus
from serving.consults.common import (
    ConsultError,
    NotFound,
    audit,
    illegal_state,
    load_case,
    move,
    require_status,
    sender_of,
)
from serving.consults.models import Message, MessageAttachment
from serving.consults.schemas import AttachmentIn, MessageIn, message_out
from serving.db import transaction
from serving.events import types
from serving.events.outbox import emit
from serving.orgs.service import Role
from model.intake import IngestedPhoto, PhotoLimits, PhotoRejected, ingest_photo
from serving.photos.store import PhotoStore
from serving.queue.leases import LEASED_STATUSES, lease_active
from serving.queue.service import require_lease

S = CaseStatus


@dataclass(frozen=True)
class _Stored:
    photos: list[IngestedPhoto]
    keys: list[tuple[str, str]]  # (image key, thumbnail key) per attachment
    created: list[str]  # keys this request created (removed if its transaction fails)


def decode_attachments(items: Sequence[AttachmentIn], *, limits: PhotoLimits) -> list[IngestedPhoto]:
    """Decode and sanitize every attachment in memory (nothing written); ConsultError naming the item."""
    photos = []
    for index, item in enumerate(items):
        field = f"attachments[{index}]"
        if len(item.content_base64) > (limits.max_bytes * 4) // 3 + 8:
            raise ConsultError(
                413,
                "photo_too_large",
                f"{field} is larger than the {limits.max_bytes // (1024 * 1024)} MB limit",
                fix="Send a smaller photo: a lower size or quality on the phone, or crop it.",
                field=f"{field}.content_base64",
            )
        try:
            data = base64.b64decode(item.content_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ConsultError(
                422,
                "invalid_base64",
                f"{field}.content_base64 is not valid base64",
                fix="Send the image bytes base64-encoded (standard alphabet, with padding).",
                field=f"{field}.content_base64",
            ) from exc
        try:
            photos.append(
                ingest_photo(data, filename=item.filename or f"attachment {index + 1}", limits=limits)
            )
        except PhotoRejected as exc:
            raise ConsultError(exc.status_code, exc.code, exc.message, fix=exc.fix, field=field) from exc
    return photos


def _write(store: PhotoStore, photos: Sequence[IngestedPhoto]) -> _Stored:
    keys, created = [], []
    for photo in photos:
        pair = []
        for content, sha, suffix in (
            (photo.content, photo.sha256, photo.suffix),
            (photo.thumbnail, hashlib.sha256(photo.thumbnail).hexdigest(), "jpg"),
        ):
            key, was_created = store.put(content, sha256=sha, suffix=suffix)
            pair.append(key)
            if was_created:
                created.append(key)
        keys.append((pair[0], pair[1]))
    return _Stored(photos=list(photos), keys=keys, created=created)


def _referenced(session: Session, key: str) -> bool:
    return bool(
        session.scalar(select(exists().where(or_(Photo.storage_key == key, Photo.thumbnail_key == key))))
        or session.scalar(
            select(
                exists().where(
                    or_(MessageAttachment.storage_key == key, MessageAttachment.thumbnail_key == key)
                )
            )
        )
    )


def _remove_orphans(sessions: sessionmaker[Session], store: PhotoStore, keys: Sequence[str]) -> None:
    if not keys:
        return
    with transaction(sessions) as session:
        for key in keys:
            if not _referenced(session, key):
                store.delete(key)


def _restore_missing(store: PhotoStore, stored: _Stored) -> None:
    """After commit: a concurrent failed request may have removed a file both wrote; put it back."""
    for photo, (key, thumbnail_key) in zip(stored.photos, stored.keys, strict=True):
        if not store.exists(key):
            store.put(photo.content, sha256=photo.sha256, suffix=photo.suffix)
        if not store.exists(thumbnail_key):
            store.put(photo.thumbnail, sha256=hashlib.sha256(photo.thumbnail).hexdigest(), suffix="jpg")


def _check_sender(session: Session, *, client: Client, case: Case, data: MessageIn, now: datetime) -> None:
    """Who may write now. Patients: any case not closed, no questions. Dermatologists: a question needs
    the lease on a case in review; a message needs the lease while the case is held or in review."""
    status = S(case.status)
    if status is S.closed:
        raise illegal_state(status, "get messages; the case is closed")
    if client.role is Role.intake:
        if data.question:
            raise ConsultError(
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
    session: Session, *, client: Client, case: Case, data: MessageIn, stored: _Stored, now: datetime
) -> Message:
    kind = "question" if data.question else "message"
    message = Message(
        organization_id=case.organization_id,
        case_id=case.id,
        sender=sender_of(client),
        kind=kind,
        body=data.body,
        created_at=now,
        sender_user_id=client.user_id,
        sender_key_id=client.key_id,
    )
    session.add(message)
    session.flush()
    for position, (photo, (key, thumbnail_key)) in enumerate(zip(stored.photos, stored.keys, strict=True), 1):
        session.add(
            MessageAttachment(
                message_id=message.id,
                organization_id=case.organization_id,
                position=position,
                storage_key=key,
                thumbnail_key=thumbnail_key,
                media_type=photo.media_type,
                sha256=photo.sha256,
                width=photo.width,
                height=photo.height,
                size_bytes=len(photo.content),
                created_at=now,
            )
        )
    session.flush()
    session.refresh(message, ["attachments"])
    return message


def _post(session: Session, *, client: Client, case_id: str, data: MessageIn, stored: _Stored, now: datetime):
    case = load_case(session, client=client, case_id=case_id)
    _check_sender(session, client=client, case=case, data=data, now=now)
    message = _insert(session, client=client, case=case, data=data, stored=stored, now=now)
    if client.role is Role.intake:
        if case.status == S.awaiting_patient.value:
            move(session, case, S.queued, client=client, reason="the patient answered")
    elif data.question:
        move(session, case, S.awaiting_patient, client=client, reason="question to the patient")
    audit(
        session,
        client=client,
        action="consult.message.create",
        resource_type="case",
        resource_id=case.id,
        detail={"message_id": message.id, "kind": message.kind, "attachments": len(stored.keys)},
    )
    if client.role is not Role.intake:
        out = message_out(message)
        emit(
            session,
            organization_id=case.organization_id,
            event_type=types.CASE_QUESTION_ASKED if data.question else types.MESSAGE_SENT,
            case_id=case.id,
            payload={
                "message_id": message.id,
                "body": message.body,
                "attachments": [a.model_dump(mode="json") for a in out.attachments],
            },
        )
    return case, message


def post_message(
    sessions: sessionmaker[Session],
    *,
    store: PhotoStore,
    limits: PhotoLimits,
    client: Client,
    case_id: str,
    data: MessageIn,
    now: datetime,
) -> tuple[Case, Message]:
    """Add a message (and its attachments) to the case's thread. One transaction for the rows, the
    state move and the event; attachment files are written first and removed if it fails."""
    with transaction(sessions) as session:  # refuse early, before any image work
        case = load_case(session, client=client, case_id=case_id, for_update=False)
        _check_sender(session, client=client, case=case, data=data, now=now)
    stored = _write(store, decode_attachments(data.attachments, limits=limits))
    try:
        with transaction(sessions) as session:
            case, message = _post(session, client=client, case_id=case_id, data=data, stored=stored, now=now)
    except BaseException:
        _remove_orphans(sessions, store, stored.created)
        raise
    _restore_missing(store, stored)
    return case, message


def thread(session: Session, *, client: Client, case_id: str) -> list[Message]:
    case = load_case(session, client=client, case_id=case_id, for_update=False)
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
    load_case(session, client=client, case_id=case_id, for_update=False)
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

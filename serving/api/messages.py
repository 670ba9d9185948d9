"""Message routes: the thread between dermatologist and patient, and its image attachments."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from serving.api.consult_common import audited_lookups, case_ref, sessions
from serving.api.openapi import AUTHENTICATED, WITH_BODY, errors, images
from serving.auth import EVERYONE, Client, CurrentClient, require
from serving.consults import messages
from serving.consults.schemas import MessageActed, MessageIn, MessageOut, message_out
from serving.db import transaction, utcnow

router = APIRouter(prefix="/v1", tags=["consults"], responses=errors(*AUTHENTICATED))


# -- messages ---------------------------------------------------------------------------------


@router.post(
    "/cases/{case_id}/messages",
    status_code=201,
    response_model=MessageActed,
    responses=errors(*WITH_BODY, 404, 409, 415),
    summary="Write to the thread",
)
async def post_message(
    case_id: str, data: MessageIn, request: Request, client: CurrentClient
) -> MessageActed:
    """Dermatologist to patient, or the patient (intake key) to the dermatologist; images as base64
    attachments. A dermatologist's 'question' sends the case to 'awaiting_patient'; the patient's
    message to a case awaiting them puts it back in the queue."""
    require(client, *EVERYONE)
    intake = request.app.state.intake
    with audited_lookups(request, client, action="consult.message.create", resource_id=case_id):
        case, row = await run_in_threadpool(
            messages.post_message,
            sessions(request),
            store=intake.store,
            limits=intake.limits,
            budget=intake.decode_budget,
            client=client,
            case_id=case_id,
            data=data,
            now=utcnow(),
        )
    return MessageActed(case=case_ref(case), message=message_out(row))


@router.get(
    "/cases/{case_id}/messages",
    response_model=list[MessageOut],
    responses=errors(404),
    summary="The thread, oldest first",
)
def get_messages(case_id: str, request: Request, client: CurrentClient) -> list[MessageOut]:
    require(client, *EVERYONE)
    with (
        audited_lookups(request, client, action="consult.messages.read", resource_id=case_id),
        transaction(sessions(request)) as session,
    ):
        return [message_out(m) for m in messages.thread(session, client=client, case_id=case_id)]


def _attachment(
    request: Request, client: Client, case_id: str, message_id: str, attachment_id: str, thumbnail
):
    with (
        audited_lookups(request, client, action="consult.attachment.read", resource_id=attachment_id),
        transaction(sessions(request)) as session,
    ):
        found = messages.attachment(
            session,
            client=client,
            case_id=case_id,
            message_id=message_id,
            attachment_id=attachment_id,
            thumbnail=thumbnail,
        )
    content = request.app.state.intake.store.read(found.thumbnail_key if thumbnail else found.storage_key)
    media_type = "image/jpeg" if thumbnail else found.media_type
    return Response(content, media_type=media_type, headers={"Cache-Control": "private, no-store"})


@router.get(
    "/cases/{case_id}/messages/{message_id}/attachments/{attachment_id}/image",
    response_class=Response,
    responses={**images("image/jpeg", "image/png", description="The image, no metadata."), **errors(404)},
    summary="An attachment",
)
def attachment_image(
    case_id: str, message_id: str, attachment_id: str, request: Request, client: CurrentClient
):
    return _attachment(request, client, case_id, message_id, attachment_id, thumbnail=False)


@router.get(
    "/cases/{case_id}/messages/{message_id}/attachments/{attachment_id}/thumbnail",
    response_class=Response,
    responses={**images("image/jpeg", description="The image's thumbnail."), **errors(404)},
    summary="An attachment's thumbnail",
)
def attachment_thumbnail(
    case_id: str, message_id: str, attachment_id: str, request: Request, client: CurrentClient
):
    return _attachment(request, client, case_id, message_id, attachment_id, thumbnail=True)

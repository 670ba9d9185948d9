"""Consult note routes (sign and release): thin. The draft a release would sign, the release itself,
the released note and its PDF; every read audited, a refused look-up audited before its 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from serving.api.consult_common import audited_lookups, case_ref, sessions
from serving.api.openapi import AUTHENTICATED, WITH_BODY, errors
from serving.auth import REVIEWERS, CurrentClient, require
from serving.consults import note_pdf, notes, referral_letter
from serving.consults.note_schemas import NoteDraftOut, NoteReleased, NoteReleaseIn, note_out
from serving.db import transaction, utcnow

router = APIRouter(prefix="/v1", tags=["consults"], responses=errors(*AUTHENTICATED))

NoteNumber = Annotated[
    int | None, Query(ge=1, le=10_000, description="A note of the case by number; default: the latest.")
]


def pdf_responses(description: str) -> dict:
    """The documented answers of a PDF download: the file, or the errors of reading its note."""
    pdf = {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
    return {200: {"description": description, "content": pdf}, **errors(404, 422)}


def pdf_download(content: bytes, name: str) -> Response:
    """A PDF sent as an attachment, never cached outside the user's browser."""
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store"}
    return Response(content, media_type="application/pdf", headers=headers)


@router.get(
    "/cases/{case_id}/consult-note/draft",
    response_model=NoteDraftOut,
    responses=errors(403, 404),
    summary="What a release would sign now",
)
def get_note_draft(case_id: str, request: Request, client: CurrentClient) -> NoteDraftOut:
    """The note the case's drafts make now (the current diagnosis and its plan, the drafted
    prescriptions, the scheduled follow-up) and its content_sha256, to review before releasing."""
    require(client, *REVIEWERS)
    with (
        audited_lookups(request, client, action="consult.note.draft.read", resource_id=case_id),
        transaction(sessions(request)) as session,
    ):
        draft = notes.read_draft(session, client=client, case_id=case_id)
        return NoteDraftOut(
            case_id=draft.case.id,
            releasable=draft.content is not None,
            number=draft.number,
            content=draft.content,
            content_sha256=draft.sha256,
        )


@router.post(
    "/cases/{case_id}/consult-note",
    status_code=201,
    response_model=NoteReleased,
    responses={
        200: {"model": NoteReleased, "description": "Nothing new was held: the note released before."},
        **errors(*WITH_BODY, 403, 404, 409),
    },
    summary="Sign and release the consult note",
)
def post_consult_note(
    case_id: str, data: NoteReleaseIn, request: Request, client: CurrentClient
) -> NoteReleased | JSONResponse:
    """Sign the case's drafts (diagnosis with its plan, prescriptions) as one note, under your licence
    for the patient's jurisdiction, and release it: one `consult.released` event carries it to the
    intake system. With nothing held, the note released before is answered again (200, `replayed`
    true, no event). Needs the case's lease (admins: none), and a licence where the patient is."""
    require(client, *REVIEWERS)
    with (
        audited_lookups(request, client, action="consult.note.release", resource_id=case_id),
        transaction(sessions(request)) as session,
    ):
        case, note, replayed = notes.release(session, client=client, case_id=case_id, data=data, now=utcnow())
        out = NoteReleased(case=case_ref(case), note=note_out(note), replayed=replayed)
    if replayed:
        return JSONResponse(out.model_dump(mode="json"), status_code=200)
    return out


@router.get(
    "/cases/{case_id}/consult-note",
    response_model=NoteReleased,
    responses=errors(404, 422),
    summary="The released consult note",
)
def get_consult_note(
    case_id: str, request: Request, client: CurrentClient, number: NoteNumber = None
) -> NoteReleased:
    """The case's latest released note (or note `number`), as signed."""
    with (
        audited_lookups(request, client, action="consult.note.read", resource_id=case_id),
        transaction(sessions(request)) as session,
    ):
        case, note = notes.read(
            session, client=client, case_id=case_id, number=number, action="consult.note.read"
        )
        return NoteReleased(case=case_ref(case), note=note_out(note), replayed=False)


@router.get(
    "/cases/{case_id}/consult-note.pdf",
    response_class=Response,
    responses=pdf_responses("The note as a PDF (one or two A4 pages)."),
    summary="The released consult note as a PDF",
)
def get_consult_note_pdf(
    case_id: str, request: Request, client: CurrentClient, number: NoteNumber = None
) -> Response:
    with (
        audited_lookups(request, client, action="consult.note.pdf", resource_id=case_id),
        transaction(sessions(request)) as session,
    ):
        _case, note = notes.read(
            session, client=client, case_id=case_id, number=number, action="consult.note.pdf"
        )
        content = note_pdf.render_pdf(note)
        name = note_pdf.filename(note)
    return pdf_download(content, name)


@router.get(
    "/cases/{case_id}/referral-letter.pdf",
    response_class=Response,
    responses=pdf_responses("The referral letter to the referring practice, as a PDF (one or two A4 pages)."),
    summary="The referral letter of a released note, for the referring practice",
)
def get_referral_letter_pdf(
    case_id: str, request: Request, client: CurrentClient, number: NoteNumber = None
) -> Response:
    """For a case a clinician submitted (`submitted_by.role` clinician): the letter addressed to the
    referring practice with the released note's findings (the latest note, or note `number`). Readable
    by whoever may read the note (the organization's intake system and its dermatologists); 404 for a
    case not referred by a clinician."""
    with (
        audited_lookups(request, client, action="consult.referral_letter.pdf", resource_id=case_id),
        transaction(sessions(request)) as session,
    ):
        case, note = notes.read(
            session, client=client, case_id=case_id, number=number, action="consult.referral_letter.pdf"
        )
        content = referral_letter.render_pdf(case, note)
        name = referral_letter.filename(note)
    return pdf_download(content, name)

"""Sign and release on the pages: the case page's confirm form releases the case's drafts as one
signed consult note (the same service as POST /v1/cases/{id}/consult-note); the released note has a
printable page (print stylesheet) and a PDF download. Every read audited."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.datastructures import FormData

from serving.consults import note_pdf, notes
from serving.consults.note_schemas import NoteReleaseIn
from serving.db import transaction
from serving.errors import NotFound
from serving.web import forms
from serving.web.auth_web import CheckedUser, CurrentUser, WebUser
from serving.web.rendering import TEMPLATES, render
from serving.web.routes_actions import _act, _in_transaction
from serving.web.routes_case import not_found

router = APIRouter(include_in_schema=False)
#: the note's content keeps times as ISO text; its templates show them as the pages' other times
TEMPLATES.env.globals.update(from_iso=datetime.fromisoformat)

Number = Annotated[int | None, Query(ge=1, le=10_000)]


def note_in(form: FormData) -> NoteReleaseIn:
    data = {
        "confirm": form.get("confirm") in ("true", "on", "1") or None,
        "content_sha256": (form.get("content_sha256") or None),
    }
    return forms.validated(NoteReleaseIn, data, form="note")


@router.post("/cases/{case_id}/consult-note")
async def release_note(case_id: str, request: Request, user: CheckedUser):
    return await _act(
        request, user, case_id, form_name="note", parse=note_in, call=_in_transaction(notes.release)
    )


def _read(request: Request, user: WebUser, case_id: str, number: int | None, action: str):
    with transaction(request.app.state.sessions) as session:
        _case, note = notes.read(session, client=user.client, case_id=case_id, number=number, action=action)
        pdf = note_pdf.render_pdf(note) if action == "consult.note.pdf" else None
        return note, pdf


@router.get("/cases/{case_id}/consult-note")
def note_page(case_id: str, request: Request, user: CurrentUser, number: Number = None):
    try:
        note, _ = _read(request, user, case_id, number, "consult.note.read")
    except NotFound as exc:
        return not_found(request, user, what=exc.what, action="consult.note.read", resource_id=case_id)
    return render(request, "note.html", {"note": note}, user=user)


@router.get("/cases/{case_id}/consult-note.pdf")
async def note_pdf_download(case_id: str, request: Request, user: CurrentUser, number: Number = None):
    try:
        note, pdf = await run_in_threadpool(_read, request, user, case_id, number, "consult.note.pdf")
    except NotFound as exc:
        return not_found(request, user, what=exc.what, action="consult.note.pdf", resource_id=case_id)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{note_pdf.filename(note)}"',
            "Cache-Control": "private, no-store",
        },
    )

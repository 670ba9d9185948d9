"""The case page, its photos and attachments, and the lease (renew, release)."""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from model.quality_verdict import DEFECTS
from serving.audit import record_refused_lookup
from serving.cases.reads import read_photo
from serving.consults import diagnoses, formulary, messages
from serving.db import transaction, utcnow
from serving.errors import DomainError, NotFound
from serving.queue import service
from serving.web.auth_web import CheckedUser, CurrentUser, WebUser
from serving.web.case_view import case_view
from serving.web.forms import FormProblem
from serving.web.rendering import local, render, zone_of

router = APIRouter(include_in_schema=False)

FOLLOW_UP_DEFAULT = timedelta(days=28)
#: the formulary's forms, strengths and units per RXCUI, for the prescription form's script
FORMULARY_JSON = json.dumps(
    {
        m.rxcui: {
            "name": m.name,
            "products": [
                {"form": p.form, "strengths": list(p.strengths), "unit": p.unit} for p in m.products
            ],
        }
        for m in formulary.FORMULARY
    }
).replace("</", "<\\/")

DONE = {
    "claimed": "You hold this case now. Renew the lease if you need longer.",
    "renewed": "Lease renewed.",
    "diagnose": "Diagnosis drafted; the patient is told when you sign and release the consult note.",
    "prescribe": "Prescription drafted; the patient is told when you sign and release the consult note.",
    "note": "Consult note signed and released; the patient is told.",
    "follow_up": "Follow-up scheduled; the case waits for the patient's photos.",
    "retake": "Retake requested; the case waits for the patient's new photos.",
    "message": "Message sent.",
    "question": "Question sent; the case waits for the patient's answer.",
    "refer": "Referred in person; the patient is told.",
    "close": "Case closed; the patient is told.",
    "pathology": "Pathology result recorded; the outcome label below follows the latest report.",
    "video_visit": "Video visit proposed; the patient is asked to pick a time. The case waits for it.",
    "visit_complete": "Video visit held; you hold the case again: diagnose, prescribe, close.",
    "visit_cancel": "Video visit cancelled; the case is back in the queue.",
}


def not_found(request: Request, user: WebUser, *, what: str = "case", action: str, resource_id: str):
    record_refused_lookup(
        request.app.state.sessions,
        actor=user.client.actor,
        action=action,
        resource_type=what,
        resource_id=resource_id,
    )
    return render(
        request,
        "error.html",
        {
            "title": f"No such {what}",
            "message": f"There is no {what} {resource_id!r} that you may see.",
            "fix": "It may belong to another organization or a jurisdiction you are not licensed in. "
            "Go back to the queue.",
        },
        status_code=404,
        user=user,
    )


def case_page(
    request: Request, user: WebUser, case_id: str, *, problem: FormProblem | None = None, values=None
):
    """The case page; with a problem, the form it concerns shows it and keeps what was typed."""
    now = utcnow()
    try:
        with transaction(request.app.state.sessions) as session:
            view = case_view(session, client=user.client, case_id=case_id, now=now)
    except NotFound:
        return not_found(request, user, action="case.read", resource_id=case_id)
    context = {
        "view": view,
        "case": view.case,
        "now": now,
        "done": DONE.get(request.query_params.get("done", "")) if problem is None else None,
        "problem": problem,
        "values": values or {},
        "catalogue": diagnoses.DIAGNOSES,
        "formulary": formulary.FORMULARY,
        "formulary_json": FORMULARY_JSON,
        "quality_reasons": list(DEFECTS),
        # the follow-up field is in the user's time zone (UTC without one), as every time shown
        "follow_up_default": local(now + FOLLOW_UP_DEFAULT, zone_of(user)).strftime("%Y-%m-%dT%H:%M"),
        "time_zone": user.user.time_zone or "UTC",
    }
    return render(request, "case.html", context, status_code=problem.status if problem else 200, user=user)


@router.get("/cases/{case_id}")
def case_get(case_id: str, request: Request, user: CurrentUser):
    return case_page(request, user, case_id)


def _photo(request: Request, user: WebUser, case_id: str, photo_id: str, *, thumbnail: bool):
    try:
        photo, content = read_photo(
            request.app.state.intake,
            client=user.client,
            case_id=case_id,
            photo_id=photo_id,
            thumbnail=thumbnail,
        )
    except NotFound:
        return Response("not found", status_code=404, media_type="text/plain")
    media_type = "image/jpeg" if thumbnail else photo.media_type
    return Response(content, media_type=media_type, headers={"Cache-Control": "private, no-store"})


@router.get("/cases/{case_id}/photos/{photo_id}/image")
def photo_image(case_id: str, photo_id: str, request: Request, user: CurrentUser):
    return _photo(request, user, case_id, photo_id, thumbnail=False)


@router.get("/cases/{case_id}/photos/{photo_id}/thumbnail")
def photo_thumbnail(case_id: str, photo_id: str, request: Request, user: CurrentUser):
    return _photo(request, user, case_id, photo_id, thumbnail=True)


@router.get("/cases/{case_id}/messages/{message_id}/attachments/{attachment_id}/{kind}")
def attachment(
    case_id: str, message_id: str, attachment_id: str, kind: str, request: Request, user: CurrentUser
):
    if kind not in ("image", "thumbnail"):
        return Response("not found", status_code=404, media_type="text/plain")
    thumbnail = kind == "thumbnail"
    try:
        with transaction(request.app.state.sessions) as session:
            found = messages.attachment(
                session,
                client=user.client,
                case_id=case_id,
                message_id=message_id,
                attachment_id=attachment_id,
                thumbnail=thumbnail,
            )
    except NotFound:
        record_refused_lookup(
            request.app.state.sessions,
            actor=user.client.actor,
            action="consult.attachment.read",
            resource_type="attachment",
            resource_id=attachment_id,
        )
        return Response("not found", status_code=404, media_type="text/plain")
    content = request.app.state.intake.store.read(found.thumbnail_key if thumbnail else found.storage_key)
    return Response(
        content,
        media_type="image/jpeg" if thumbnail else found.media_type,
        headers={"Cache-Control": "private, no-store"},
    )


def _lease_move(request: Request, user: WebUser, case_id: str, move: str):
    lease = timedelta(minutes=request.app.state.settings.lease_minutes)
    try:
        with transaction(request.app.state.sessions) as session:
            if move == "renew":
                service.renew_lease(session, client=user.client, case_id=case_id, lease=lease)
            else:
                service.release(
                    session, client=user.client, case_id=case_id, reason="released from the case page"
                )
    except NotFound:
        return not_found(request, user, action=f"case.lease.{move}", resource_id=case_id)
    except DomainError as exc:
        return case_page(request, user, case_id, problem=FormProblem.of("lease", exc))
    if move == "renew":
        return RedirectResponse(f"/cases/{case_id}?done=renewed", status_code=303)
    return RedirectResponse("/queue?notice=released", status_code=303)


@router.post("/cases/{case_id}/lease")
def renew(case_id: str, request: Request, user: CheckedUser):
    return _lease_move(request, user, case_id, "renew")


@router.post("/cases/{case_id}/release")
def release(case_id: str, request: Request, user: CheckedUser):
    return _lease_move(request, user, case_id, "release")

"""The queue page, its live updates and "claim next".

``GET /queue/live`` is what the page polls (``static/queue.js``, every 3 s): with ``since`` the
version the page shows, a 204 while the queue's change token (``queue_version``) is the same, and
otherwise the page's live part rendered again with its new version, read and audited exactly as the
page is (``queue_view``). It never restarts the session's idle clock, and answers a 401 (JSON) once
the session has ended, so that the page says so and stops.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response

from model.triage.tiers import Tier
from serving.cases.states import IllegalMove
from serving.cases.visibility import CaseNotFound
from serving.db import transaction, utcnow
from serving.queue import service
from serving.queue.order import InvalidCursor
from serving.web.auth_web import CheckedUser, CurrentUser, SignInRequired, current_user
from serving.web.queue_view import TIERS, queue_version, queue_view
from serving.web.rendering import TEMPLATES, render

router = APIRouter(include_in_schema=False)

NOTICES = {
    "empty": "Nothing left to claim in your queue.",
    "released": "The case went back to the queue.",
}


#: the live updates' answers hold patient data too: never cached or sniffed
LIVE_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
ENDED = {"idle": "unused for too long", "expired": "its time ran out"}


def _signed_out(ended: str | None) -> dict:
    """The 401 of a live update without a valid session; ``ended``: why the session is over, if known."""
    why = ENDED.get(ended or "", "signed out")
    return {
        "error": {
            "code": "signed_out",
            "message": f"your session has ended ({why})",
            "fix": "Sign in again: /sign-in?next=%2Fqueue",
            "field": None,
            "ended": ended,
        }
    }


def _live_url(tier: str | None, cursor: str | None, page: int) -> str:
    query = {"tier": tier, "cursor": cursor, "page": page or None}
    return "/queue/live" + (
        "?" + urlencode({k: v for k, v in query.items() if v is not None}) if any(query.values()) else ""
    )


@router.get("/")
def home(user: CurrentUser):
    return RedirectResponse("/queue", status_code=303)


def _page(
    request: Request, user, *, tier: str | None, cursor: str | None, page: int, problem=None, status=200
):
    tier = Tier(tier) if tier in TIERS else None
    try:
        with transaction(request.app.state.sessions) as session:
            now = utcnow()
            version = queue_version(session, client=user.client, now=now)
            view = queue_view(session, client=user.client, now=now, tier=tier, cursor=cursor, page=page)
    except InvalidCursor:
        return RedirectResponse("/queue", status_code=303)
    notice = NOTICES.get(request.query_params.get("notice", ""))
    context = {"view": view, "tiers": TIERS, "notice": notice, "problem": problem, "cursor": cursor}
    context |= {"version": version, "live_url": _live_url(tier and tier.value, cursor, page)}
    return render(request, "queue.html", context, status_code=status, user=user)


@router.get("/queue")
def queue_page(
    request: Request, user: CurrentUser, tier: str | None = None, cursor: str | None = None, page: int = 0
):
    return _page(request, user, tier=tier, cursor=cursor, page=max(0, min(page, 10_000)))


@router.get("/queue/live")
def queue_live(
    request: Request,
    tier: str | None = None,
    cursor: str | None = None,
    page: int = 0,
    since: str | None = None,
):
    try:
        user = current_user(request, touch=False)
    except SignInRequired as exc:
        return JSONResponse(_signed_out(getattr(exc, "ended", None)), status_code=401, headers=LIVE_HEADERS)
    tier_ = Tier(tier) if tier in TIERS else None
    page = max(0, min(page, 10_000))
    try:
        with transaction(request.app.state.sessions) as session:
            now = utcnow()
            version = queue_version(session, client=user.client, now=now)
            if since == version:
                return Response(status_code=204, headers=LIVE_HEADERS)
            view = queue_view(session, client=user.client, now=now, tier=tier_, cursor=cursor, page=page)
    except InvalidCursor:
        body = {"code": "invalid_cursor", "message": "this page of the queue no longer exists"}
        return JSONResponse({"error": body | {"fix": "Reload /queue.", "field": "cursor"}}, 400)
    context = {"request": request, "user": user, "csrf_token": user.csrf_token, "view": view, "tiers": TIERS}
    html = TEMPLATES.env.get_template("_queue_live.html").render(context)
    headers = LIVE_HEADERS | {"ETag": f'"{version}"'}
    return JSONResponse({"version": version, "html": html}, headers=headers)


@router.post("/queue/claim")
async def claim(request: Request, user: CheckedUser):
    """Claim the top case (or the case named by the form's ``case_id``) and open it."""
    form = await request.form()
    case_id = form.get("case_id") if isinstance(form.get("case_id"), str) else None
    return await run_in_threadpool(_claim, request, user, case_id)


def _claim(request: Request, user, case_id: str | None):
    lease = timedelta(minutes=request.app.state.settings.lease_minutes)
    try:
        with transaction(request.app.state.sessions) as session:
            case = service.claim_next(session, client=user.client, lease=lease, case_id=case_id or None)
            claimed = case.id if case else None
    except service.NotAReviewer as exc:
        return _page(
            request,
            user,
            tier=None,
            cursor=None,
            page=0,
            problem=f"You cannot claim cases: {exc}.",
            status=403,
        )
    except (CaseNotFound, IllegalMove) as exc:
        problem = (
            f"That case cannot be claimed now: {exc}. Reload the queue."
            if isinstance(exc, IllegalMove)
            else "That case is not in your queue."
        )
        return _page(request, user, tier=None, cursor=None, page=0, problem=problem, status=409)
    if claimed is None:
        return RedirectResponse("/queue?notice=empty", status_code=303)
    return RedirectResponse(f"/cases/{claimed}?done=claimed", status_code=303)

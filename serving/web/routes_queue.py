"""The queue page and "claim next"."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from model.triage.tiers import Tier
from serving.cases.states import IllegalMove
from serving.cases.visibility import CaseNotFound
from serving.db import transaction, utcnow
from serving.queue import service
from serving.queue.order import InvalidCursor
from serving.web.auth_web import CheckedUser, CurrentUser
from serving.web.queue_view import TIERS, queue_view
from serving.web.rendering import render

router = APIRouter(include_in_schema=False)

NOTICES = {
    "empty": "Nothing left to claim in your queue.",
    "released": "The case went back to the queue.",
}


@router.get("/")
def home(user: CurrentUser):
    return RedirectResponse("/queue", status_code=303)


def _page(
    request: Request, user, *, tier: str | None, cursor: str | None, page: int, problem=None, status=200
):
    tier = Tier(tier) if tier in TIERS else None
    try:
        with transaction(request.app.state.sessions) as session:
            view = queue_view(session, client=user.client, now=utcnow(), tier=tier, cursor=cursor, page=page)
    except InvalidCursor:
        return RedirectResponse("/queue", status_code=303)
    notice = NOTICES.get(request.query_params.get("notice", ""))
    return render(
        request,
        "queue.html",
        {"view": view, "tiers": TIERS, "notice": notice, "problem": problem, "cursor": cursor},
        status_code=status,
        user=user,
    )


@router.get("/queue")
def queue_page(
    request: Request, user: CurrentUser, tier: str | None = None, cursor: str | None = None, page: int = 0
):
    return _page(request, user, tier=tier, cursor=cursor, page=max(0, min(page, 10_000)))


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

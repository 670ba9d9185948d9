"""Sign in and sign out."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse

from serving.web import auth_web
from serving.web.auth_web import SESSION_COOKIE, SIGN_IN_CSRF_COOKIE, CheckedUser, CurrentUser
from serving.web.rendering import render

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Only a path of this site (never another host) to go to after signing in."""
    if not target or len(target) > 2000:
        return "/queue"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target[1:2] in ("/", "\\"):
        return "/queue"
    if any(ord(c) < 0x20 or c == "\\" for c in target):  # browsers read '\\' as '/'
        return "/queue"
    return target


def return_path(request: Request) -> str:
    """Where to come back to after signing in again: the page asked for (a GET), else the page the
    form was sent from (a POST's same-origin Referer, e.g. the case page), else the queue."""
    if request.method == "GET":
        return safe_next(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc == request.headers.get("host") and referer.path != "/sign-in":
        return safe_next(referer.path + (f"?{referer.query}" if referer.query else ""))
    return "/queue"


def idle_text(minutes: float) -> str:
    """30 -> '30 minutes'; 0.2 -> '12 seconds'; 1 -> '1 minute'."""
    if minutes < 1:
        seconds = round(minutes * 60)
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    return f"{minutes:g} minute{'' if minutes == 1 else 's'}"


def ended_notice(request: Request) -> str | None:
    """Why the browser is signed out, said on the sign-in page: a session that ended on its own."""
    settings = request.app.state.settings
    ended = request.query_params.get("ended")
    if ended == "idle":
        return (
            f"Your session ended after {idle_text(settings.web_idle_minutes)} without activity. "
            "Sign in again to go back to the page you were on; what you typed in its forms is kept "
            "in this browser."
        )
    if ended == "expired":
        return (
            f"Your session ended: a sign-in lasts {settings.web_session_hours:g} hours. Sign in again to "
            "go back to the page you were on; what you typed in its forms is kept in this browser."
        )
    return None


def _form_page(
    request: Request, *, error: str | None = None, values: dict | None = None, status_code: int = 200
):
    token = auth_web.new_sign_in_token()
    response = render(
        request,
        "sign_in.html",
        {
            "sign_in_token": token,
            "error": error,
            "values": values or {},
            "next": safe_next(request.query_params.get("next") or (values or {}).get("next")),
            "ended": ended_notice(request) if not values else None,
            "lease_minutes": request.app.state.settings.lease_minutes,
        },
        status_code=status_code,
    )
    auth_web.set_cookie(request, response, SIGN_IN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.get("/sign-in")
def sign_in_page(request: Request):
    return _form_page(request)


@router.post("/sign-in", dependencies=[Depends(auth_web.check_sign_in_csrf)])
async def sign_in(request: Request):
    form = await request.form()
    values = {
        k: form.get(k) if isinstance(form.get(k), str) else "" for k in ("organization", "login", "next")
    }
    password = form.get("password")
    try:
        token = await run_in_threadpool(  # argon2 and the database: off the event loop
            auth_web.sign_in,
            request,
            org_slug=values["organization"],
            login=values["login"],
            password=password if isinstance(password, str) else "",
        )
    except auth_web.SignInFailed as exc:
        return _form_page(request, error=str(exc), values=values, status_code=401)
    response = RedirectResponse(safe_next(values["next"]), status_code=303)
    max_age = int(request.app.state.settings.web_session_hours * 3600)
    auth_web.set_cookie(request, response, SESSION_COOKIE, token, max_age=max_age)
    response.delete_cookie(SIGN_IN_CSRF_COOKIE, path="/")
    return response


@router.get("/session/ping")
def session_ping(user: CurrentUser):
    """'Stay signed in': a request of the user's, so the idle clock starts again (and the seconds the
    session now has left, for the page's warning). Signed out: the sign-in redirect, as any page."""
    return JSONResponse({"seconds_left": user.seconds_left}, headers={"Cache-Control": "no-store"})


@router.post("/sign-out")
def sign_out(request: Request, user: CheckedUser):
    auth_web.sign_out(request, user)
    response = RedirectResponse("/sign-in?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response

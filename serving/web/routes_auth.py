"""Sign in and sign out."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from serving.web import auth_web
from serving.web.auth_web import SESSION_COOKIE, SIGN_IN_CSRF_COOKIE, CheckedUser
from serving.web.rendering import render

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Only a path of this site (never another host) to go to after signing in."""
    if not target:
        return "/queue"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/queue"
    return target


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


@router.post("/sign-out")
def sign_out(request: Request, user: CheckedUser):
    auth_web.sign_out(request, user)
    response = RedirectResponse("/sign-in?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response

"""The dermatologists' pages: server-rendered templates over the same services as the JSON API.

``install(app)`` mounts the pages, their static files (``/static``) and the page errors: a request
without a valid session goes to the sign-in form, a POST without its CSRF token gets a 403.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from serving.web import (
    routes_account,
    routes_actions,
    routes_admin,
    routes_auth,
    routes_case,
    routes_dashboard,
    routes_monitoring,
    routes_note,
    routes_queue,
)
from serving.web.auth_web import CsrfRejected, SignInRequired, TooManyRequests
from serving.web.rendering import STATIC_DIR, render


def install(app: FastAPI) -> None:
    pages = (
        routes_auth,
        routes_queue,
        routes_case,
        routes_actions,
        routes_note,
        routes_dashboard,
        routes_monitoring,
        routes_admin,
        routes_account,
    )
    for module in pages:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired):
        target = quote(routes_auth.return_path(request), safe="")
        ended = f"&ended={exc.ended}" if exc.ended else ""
        return RedirectResponse(f"/sign-in?next={target}{ended}", status_code=303)

    @app.exception_handler(TooManyRequests)
    async def _too_many(request: Request, exc: TooManyRequests):
        response = render(
            request,
            "error.html",
            {"title": "Too many requests", "message": exc.limited.message, "fix": exc.limited.fix},
            status_code=429,
        )
        response.headers.update(exc.limited.headers or {})
        return response

    @app.exception_handler(CsrfRejected)
    async def _csrf(request: Request, _exc: CsrfRejected):
        return render(
            request,
            "error.html",
            {
                "title": "Form expired",
                "message": "This form had no security token, or not the one of your session.",
                "fix": "Go back, reload the page and send the form again.",
            },
            status_code=403,
        )

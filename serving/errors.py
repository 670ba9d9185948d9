"""Errors a client can cause: one domain-error type, and how it becomes JSON.

Every service raises :class:`DomainError` (or a subclass that names the situation) carrying what the
client needs: the HTTP status, a machine ``code``, the ``message``, what to ``fix`` and the ``field``
at fault. It is translated once to the JSON body here (``install_handlers``) and once to the message
beside a form on the pages (``serving.web.forms.FormProblem.of``).

Every 4xx body has the same shape, so an intake developer always learns what to fix:
``{"error": {"code": ..., "message": ..., "fix": ..., "field": ...}}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match, Mount

from serving.db import TextWithNul


class DomainError(Exception):
    """A request the service refuses, in the client's terms."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        fix: str = "",
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.fix = fix
        self.field = field
        self.headers = headers


class NotFound(DomainError):
    """No such ``what`` (a case, a prescription, a user...) for the caller: another organization's, or
    outside a dermatologist's licences, does not exist for them either."""

    def __init__(self, what: str, ident: str, *, fix: str = "Check the id."):
        self.what = what
        self.ident = ident
        super().__init__(404, f"{what.replace(' ', '_')}_not_found", f"no {what} {ident!r}", fix=fix)

    @property
    def resource_type(self) -> str:
        return self.what.replace(" ", "_")


class Forbidden(DomainError):
    """The caller's role may not do this."""

    def __init__(self, message: str, *, fix: str):
        super().__init__(403, "forbidden", message, fix=fix)


def error_body(code: str, message: str, *, fix: str = "", field: str | None = None, **extra: Any) -> dict:
    body: dict[str, Any] = {"code": code, "message": message, "fix": fix}
    if field is not None:
        body["field"] = field
    body.update(extra)
    return {"error": body}


def field_path(loc: tuple | list, prefix: str = "") -> str:
    parts = [str(p) for p in loc]
    if not prefix and parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]  # where in the request (a field may itself be named "body")
    path = ".".join(parts)
    return f"{prefix}.{path}" if prefix and path else (prefix or path)


def validation_error(exc_errors: list[dict], *, prefix: str) -> DomainError:
    """A pydantic ValidationError's errors -> one 422 naming the first bad field (all listed in message)."""
    problems = [f"{field_path(e['loc'], prefix)}: {e['msg']}" for e in exc_errors]
    first = field_path(exc_errors[0]["loc"], prefix) if exc_errors else prefix
    return DomainError(
        422, "invalid_field", "; ".join(problems), fix=f"Correct the field '{first}'.", field=first
    )


def error_response(exc: DomainError) -> JSONResponse:
    return JSONResponse(
        error_body(exc.code, exc.message, fix=exc.fix, field=exc.field),
        status_code=exc.status_code,
        headers=exc.headers,
    )


#: the methods a 405 may list
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(routes: list[BaseRoute], scope: dict, *, named: str = "") -> list[str]:
    """Every method some route serves at the request's path, with those ``named`` by the 405 (Starlette's
    own 405 names only the methods of the first route there, though several routes may share a path).
    Each method is tried against every route (included routers too); a mount (static files) answers its
    own 405, which names its methods."""
    methods = {method.strip() for method in named.split(",") if method.strip()}
    at_path = {"type": "http", "path": scope["path"], "root_path": scope.get("root_path", ""), "headers": []}
    for route in routes:
        if isinstance(route, Mount):
            continue
        methods.update(m for m in METHODS if route.matches({**at_path, "method": m})[0] is Match.FULL)
    return [m for m in METHODS if m in methods]


def _routing_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """A path nobody serves (404) or a method not served there (405), in the one error shape."""
    if exc.status_code == 405:
        named = (exc.headers or {}).get("Allow", "")
        allowed = allowed_methods(request.app.router.routes, request.scope, named=named)
        return JSONResponse(
            error_body(
                "method_not_allowed",
                f"{request.method} is not served at {request.url.path}",
                fix=f"Use one of: {', '.join(allowed)}.",
            ),
            status_code=405,
            headers={**(exc.headers or {}), "Allow": ", ".join(allowed)},
        )
    return JSONResponse(
        error_body("not_found", f"nothing is served at {request.url.path}", fix="Check the path; see /docs."),
        status_code=404,
        headers=exc.headers,
    )


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(TextWithNul)
    async def _nul(_request: Request, exc: TextWithNul) -> JSONResponse:
        return error_response(
            DomainError(
                422, "invalid_text", str(exc), fix="Remove the NUL character (\\u0000) from the text."
            )
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(validation_error(list(exc.errors()), prefix=""))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code in (404, 405):
            return _routing_error(request, exc)
        if exc.status_code == 400:  # the framework could not parse the body (e.g. JSON that is not UTF-8)
            return error_response(
                DomainError(
                    422,
                    "unreadable_body",
                    f"the request body could not be read: {exc.detail}",
                    fix="Send the body in the operation's content type: UTF-8 JSON, or multipart/form-data.",
                )
            )
        code = "http_error"
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

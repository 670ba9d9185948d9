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


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(validation_error(list(exc.errors()), prefix=""))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

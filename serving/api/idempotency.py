"""The ``Idempotency-Key`` header: how the OpenAPI document describes it and how a route reads it.

The route reads the header itself (not as a FastAPI ``Header``), so that a missing or malformed key is a
400 naming the header rather than a generic validation error; ``parameter`` documents it.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from serving.errors import DomainError

HEADER = "Idempotency-Key"
MAX_LENGTH = 255


def parameter(*, required: bool, description: str) -> dict[str, Any]:
    """The header as an OpenAPI parameter (for ``openapi_extra={"parameters": [...]}``)."""
    return {
        "name": HEADER,
        "in": "header",
        "required": required,
        "description": f"{description} At most {MAX_LENGTH} characters, not blank; a UUID will do.",
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_LENGTH, "pattern": r"\S"},
    }


def read(request: Request, *, required: bool) -> str | None:
    """The request's key, stripped; a 400 when it is required and missing, blank or too long."""
    value = request.headers.get(HEADER)
    if value is None:
        if not required:
            return None
        raise DomainError(
            400,
            "idempotency_key_required",
            f"the {HEADER} header is missing",
            field=HEADER,
            fix=f"Send a unique {HEADER} (e.g. a UUID, at most {MAX_LENGTH} characters) with each request, "
            "and the same one when you retry it.",
        )
    if not value.strip() or len(value) > MAX_LENGTH:
        raise DomainError(
            400,
            "invalid_idempotency_key",
            f"the {HEADER} header is blank or longer than {MAX_LENGTH} characters",
            field=HEADER,
            fix=f"Send a unique key (e.g. a UUID, at most {MAX_LENGTH} characters) and the same one when you "
            "retry.",
        )
    return value.strip()

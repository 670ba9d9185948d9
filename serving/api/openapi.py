"""What the OpenAPI document says beyond what FastAPI derives from a route's signature: the one error
shape and every status a route can answer with it, and the bodies and headers routes parse themselves
(to answer with their own errors).

A route lists its refusals with ``responses=errors(...)``; each /v1 router adds ``AUTHENTICATED`` (what
any route behind an API key can answer) and a route with a body adds ``WITH_BODY``. A status documented
here is always the ``ErrorBody`` shape of ``serving.errors``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="What went wrong, for machines: e.g. 'case_not_found', 'invalid_field'.")
    message: str = Field(description="What went wrong, for people.")
    fix: str = Field(description="What to do so that the request succeeds.")
    field: str | None = Field(
        default=None,
        description="The part of the request at fault when there is one: a JSON path ('questionnaire.age'), "
        "a form part ('photos[0]') or a header ('Idempotency-Key').",
    )


class ErrorBody(BaseModel):
    """Every 4xx answer: ``{"error": {"code", "message", "fix", "field"}}``."""

    error: ErrorDetail


_HEADER_TEXT = {"schema": {"type": "string"}}

#: when each status is answered, and the headers that come with it
STATUSES: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("A header is missing or malformed: `Idempotency-Key` (named in `field`).", {}),
    401: (
        "No API key, or an unknown or revoked one, or the key of a deactivated user.",
        {"WWW-Authenticate": {**_HEADER_TEXT, "required": True, "description": "`Bearer`."}},
    ),
    403: ("The key's role may not do this.", {}),
    404: (
        "No such resource for the caller: it does not exist, or belongs to another organization, or "
        "(for a dermatologist) to a patient outside their licences.",
        {},
    ),
    408: ("The request body did not arrive in time (the server's read timeout).", {}),
    409: (
        "The resource's current state does not allow this: the case's status (`illegal_state`), its lease "
        "held by someone else or expired (`lease_required`), or a request already pending.",
        {},
    ),
    413: (
        "The request is over the total size limit, or a photo over its size or pixel limit.",
        {},
    ),
    415: (
        "Not a multipart/form-data body, or a file that is not a JPEG, PNG, WebP or HEIC/HEIF image.",
        {},
    ),
    422: ("A field is missing or invalid (named in `field`); `message` lists every problem.", {}),
    429: (
        "Too many requests with this key; wait the seconds of `Retry-After`.",
        {
            "Retry-After": {
                "schema": {"type": "integer", "minimum": 0},
                "required": True,
                "description": "Seconds to wait before the next request.",
            }
        },
    ),
}

#: what every route behind an API key can answer
AUTHENTICATED = (401, 429)
#: what every route that reads a request body can answer
WITH_BODY = (408, 413, 422)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status with the ErrorBody schema, its headers and when it comes."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status in sorted(set(statuses)):
        description, headers = STATUSES[status]
        documented[status] = {"model": ErrorBody, "description": description}
        if headers:
            documented[status]["headers"] = headers
    return documented


def images(*media_types: str, description: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that answers the bytes of an image."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {200: {"description": description, "content": {media_type: binary for media_type in media_types}}}


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema with its definitions inlined, to describe a part the route parses itself."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                rest = {k: inline(v) for k, v in node.items() if k != "$ref"}
                return {**inline(definitions[ref.removeprefix("#/$defs/")]), **rest}
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return inline(schema)


def multipart_body(properties: dict[str, Any], required: list[str], *, encoding: dict[str, str]) -> dict:
    """``openapi_extra`` for a multipart/form-data body the route parses itself; ``encoding``: the content
    type of a part (``application/json`` for a JSON object sent as a form field)."""
    schema = {"type": "object", "required": required, "properties": properties, "additionalProperties": False}
    content = {
        "schema": schema,
        "encoding": {name: {"contentType": content_type} for name, content_type in encoding.items()},
    }
    return {"requestBody": {"required": True, "content": {"multipart/form-data": content}}}


def install_openapi(app: FastAPI) -> None:
    """The app's OpenAPI document without FastAPI's own 422 answers: FastAPI documents one, in its
    ``HTTPValidationError`` shape, for every route that has a parameter, but the service answers 422 in
    ``ErrorBody`` and only where a route says so with ``errors(422)`` (a route whose only parameters are
    free-form ids cannot answer 422)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    if _FRAMEWORK_422 in json.dumps(operation.get("responses", {}).get("422", {})):
                        del operation["responses"]["422"]
            _drop_unreferenced(document, "HTTPValidationError", "ValidationError")
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_FRAMEWORK_422 = '"#/components/schemas/HTTPValidationError"'


def _drop_unreferenced(document: dict[str, Any], *names: str) -> None:
    """Remove the named component schemas nothing else refers to (in order: a later one may be referred
    to only by an earlier one)."""
    schemas = document.get("components", {}).get("schemas", {})
    for name in names:
        rest = {key: value for key, value in document.items() if key != "components"}
        others = [value for key, value in schemas.items() if key != name]
        if f'"#/components/schemas/{name}"' not in json.dumps([rest, others]):
            schemas.pop(name, None)

"""The FHIR R4 facade's routes (``/fhir/R4``): thin — each dispatches through the registry of
``serving.fhir`` (the one the CapabilityStatement is generated from) and answers a resource serialized
by ``fhir.resources``, as ``application/fhir+json``. A refusal under /fhir is an OperationOutcome
(``install`` scopes its exception handlers to /fhir paths; the JSON API keeps its error shape).

Not in the OpenAPI document: FHIR clients learn the API from ``GET /fhir/R4/metadata``, and the
document's promises (every 4xx an ``ErrorBody``) are the JSON API's."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fhir.resources.R4B.bundle import Bundle, BundleEntry, BundleEntryResponse, BundleEntrySearch, BundleLink
from fhir.resources.R4B.resource import Resource
from starlette.exceptions import HTTPException as StarletteHTTPException

from serving.api.consult_common import audited_lookups, sessions
from serving.auth import CurrentClient, require
from serving.cases.intake import BadPhoto, IdempotencyConflict, create_case
from serving.db import TextWithNul, transaction
from serving.errors import DomainError, allowed_methods, validation_error
from serving.fhir import mapping, registry
from serving.fhir.bundle import Submission, parse_bundle, read_submission
from serving.fhir.capability import capability_statement
from serving.fhir.codes import MEDIA_TYPE
from serving.fhir.outcome import operation_outcome
from serving.orgs.service import Role

PREFIX = "/fhir/R4"
router = APIRouter(prefix=PREFIX, include_in_schema=False)


class FhirResponse(Response):
    media_type = MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return content.model_dump_json().encode("utf-8") if isinstance(content, Resource) else b""


def base_url(request: Request) -> str:
    return f"{str(request.base_url).rstrip('/')}{PREFIX}"


def system_interactions(routes) -> list[str]:
    """The system-level interactions the routes serve: ``transaction`` when POST /fhir/R4 is one."""
    return [
        "transaction"
        for route in routes
        if getattr(route, "path", None) == PREFIX and "POST" in getattr(route, "methods", ())
    ]


@router.get("/metadata")
def metadata(request: Request) -> FhirResponse:
    """The CapabilityStatement (no key needed: it says what is served, nothing about anyone)."""
    statement = capability_statement(
        registry.REGISTRY,
        base_url=base_url(request),
        system_interactions=system_interactions(router.routes),
        version=request.app.version,
    )
    return FhirResponse(statement)


_BUNDLE_TYPES = ("application/fhir+json", "application/json")


def _in_bundle(error: DomainError, submission: Submission) -> DomainError:
    """A refusal of ``create_case`` naming the part of the Bundle at fault."""
    if isinstance(error, BadPhoto):
        error.field = f"Bundle.entry[{submission.photo_entries[error.index]}].resource"
    elif isinstance(error, IdempotencyConflict):
        error.field = "Bundle.identifier"
        error.fix = "Give a new submission a new Bundle.identifier; a retry the same Bundle."
    return error


@router.post("")
async def transaction_bundle(request: Request, client: CurrentClient) -> FhirResponse:
    """The intake: a transaction Bundle (Patient, QuestionnaireResponse, the photos as Media or
    DocumentReference, ServiceRequest) creates a case through ``create_case``, as POST /v1/cases does:
    the same triage, limits and errors; a retry with the same Bundle.identifier gets the same case. The
    transaction-response names the Patient and, on the ServiceRequest's entry, carries the triage."""
    require(client, Role.intake, Role.admin)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in _BUNDLE_TYPES:
        raise DomainError(
            415,
            "unsupported_media_type",
            f"the body is {media_type or 'untyped'}, not FHIR JSON",
            fix="Send the Bundle as application/fhir+json.",
        )
    settings = request.app.state.settings
    submission = read_submission(
        parse_bundle(await request.body()), max_photos=settings.max_photos_per_request
    )
    try:
        case, created = await run_in_threadpool(
            create_case,
            request.app.state.intake,
            client=client,
            idempotency_key=submission.idempotency_key,
            questionnaire=submission.questionnaire,
            submitted_by=submission.submitted_by,
            uploads=submission.uploads,
            patient=submission.patient,
        )
    except DomainError as exc:
        raise _in_bundle(exc, submission) from exc
    status = "201 Created" if created else "200 OK"
    answers: list[BundleEntry] = []
    for index in range(len(submission.photo_entries) + len(submission.entries)):
        kind = next((k for k, i in submission.entries.items() if i == index), None)
        values: dict[str, Any] = {"status": status}
        resource = None
        if kind == "Patient" and case.patient_id is not None:
            values["location"] = f"Patient/{case.patient_id}"
        elif kind == "ServiceRequest" or (
            kind == "QuestionnaireResponse" and "ServiceRequest" not in submission.entries
        ):
            values["location"] = f"DiagnosticReport/{mapping.TRIAGE_PREFIX}{case.id}"
            resource = mapping.triage_report(case)
        entry: dict[str, Any] = {"response": BundleEntryResponse(**values)}
        if resource is not None:
            entry["resource"] = resource
        answers.append(BundleEntry(**entry))
    return FhirResponse(Bundle(type="transaction-response", entry=answers))


def _kind(resource_type: str) -> registry.ResourceKind:
    kind = registry.REGISTRY.get(resource_type)
    if kind is None:
        served = ", ".join(registry.REGISTRY)
        raise DomainError(
            404,
            "resource_type_not_supported",
            f"{resource_type!r} is not a resource type this server serves",
            fix=f"Use one of: {served} (GET {PREFIX}/metadata).",
        )
    return kind


@router.get("/{resource_type}")
def search(resource_type: str, request: Request, client: CurrentClient) -> FhirResponse:
    """A search by one parameter (``patient``; ``identifier`` for Patient): a searchset Bundle."""
    kind = _kind(resource_type)
    given = list(request.query_params.multi_items())
    allowed = ", ".join(kind.searches) or "none"
    if len(given) != 1 or given[0][0] not in kind.searches:
        raise DomainError(
            400,
            "unsupported_search",
            f"a search of {resource_type} takes exactly one of the parameters: {allowed}",
            fix=f"Search with one parameter of: {allowed} (GET {PREFIX}/metadata lists them).",
            field=given[0][0] if given else None,
        )
    param, value = given[0]
    with transaction(sessions(request)) as session:
        found = registry.search(session, client=client, resource_type=resource_type, param=param, value=value)
    base = base_url(request)
    bundle = Bundle(
        type="searchset",
        total=len(found),
        link=[BundleLink(relation="self", url=str(request.url))],
        entry=[
            BundleEntry(
                fullUrl=f"{base}/{resource.get_resource_type()}/{resource.id}",
                resource=resource,
                search=BundleEntrySearch(mode="match"),
            )
            for resource in found
        ],
    )
    return FhirResponse(bundle)


@router.get("/{resource_type}/{ident}")
def read(resource_type: str, ident: str, request: Request, client: CurrentClient) -> FhirResponse:
    """A resource by id; one the caller may not see does not exist for them (404)."""
    _kind(resource_type)
    with (
        audited_lookups(request, client, action="fhir.read", resource_id=ident),
        transaction(sessions(request)) as session,
    ):
        found = registry.read(session, client=client, resource_type=resource_type, ident=ident)
    return FhirResponse(found)


# -- refusals as OperationOutcomes, under /fhir only -------------------------------------------


def is_fhir(request: Request) -> bool:
    path = request.scope.get("path", "")
    return path == "/fhir" or path.startswith("/fhir/")


def outcome_response(error: DomainError) -> FhirResponse:
    return FhirResponse(operation_outcome(error), status_code=error.status_code, headers=error.headers)


def _as_domain_error(request: Request, exc: Exception) -> DomainError:
    if isinstance(exc, DomainError):
        return exc
    if isinstance(exc, RequestValidationError):
        return validation_error(list(exc.errors()), prefix="")
    if isinstance(exc, TextWithNul):
        return DomainError(422, "invalid_text", str(exc), fix="Remove the NUL character (\\u0000).")
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        allowed = allowed_methods(
            request.app.router.routes, request.scope, named=(exc.headers or {}).get("Allow", "")
        )
        return DomainError(
            405,
            "method_not_allowed",
            f"{request.method} is not served at {request.url.path}",
            fix=f"Use one of: {', '.join(allowed)}.",
            headers={**(exc.headers or {}), "Allow": ", ".join(allowed)},
        )
    if exc.status_code == 404:
        return DomainError(
            404, "not_found", f"nothing is served at {request.url.path}", fix=f"See GET {PREFIX}/metadata."
        )
    return DomainError(exc.status_code, "http_error", str(exc.detail), headers=getattr(exc, "headers", None))


def install(app: FastAPI) -> None:
    """The routes, and the error handlers (``serving.errors``) answering an OperationOutcome for /fhir
    paths; every other path gets the handler it had. Call after ``serving.errors.install_handlers``."""
    app.include_router(router)
    for exc_type in (DomainError, RequestValidationError, TextWithNul, StarletteHTTPException):
        previous = app.exception_handlers[exc_type]

        async def handler(request: Request, exc: Exception, previous=previous) -> Response:
            if is_fhir(request):
                return outcome_response(_as_domain_error(request, exc))
            answer = previous(request, exc)
            return await answer if inspect.isawaitable(answer) else answer

        app.exception_handlers[exc_type] = handler

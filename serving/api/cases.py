"""Intake routes: thin — parse the multipart form, call the case service (its domain errors become
their JSON answers in ``serving.errors``)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, UploadFile

from model.questionnaire import Questionnaire
from serving.api import idempotency
from serving.api.multipart import read_form
from serving.api.openapi import AUTHENTICATED, WITH_BODY, errors, images, model_schema, multipart_body
from serving.auth import REVIEWERS, CurrentClient, require
from serving.cases.intake import Upload, create_case
from serving.cases.intake import add_photos as add_photos_to_case
from serving.cases.reads import Intake, read_case, read_photo
from serving.cases.schemas import CaseOut, SubmittedBy, case_out
from serving.consults import pathology
from serving.consults.schemas import ClinicalCaseOut, clinical_case_out
from serving.db import transaction
from serving.errors import DomainError, validation_error
from serving.orgs.service import Role
from serving.patients.schemas import PatientIn

router = APIRouter(prefix="/v1", tags=["cases"], responses=errors(*AUTHENTICATED))

_PHOTOS_FIELD = {
    "type": "array",
    "items": {"type": "string", "format": "binary"},
    "minItems": 1,
    "maxItems": 10,
    "description": "1 to 10 photos (DERMATRIAGE_MAX_PHOTOS_PER_REQUEST): JPEG, PNG, WebP or HEIC/HEIF.",
}
_PHOTO_TYPES = "image/jpeg, image/png, image/webp, image/heic, image/heif"
_JSON_PART = "application/json"

_PHOTO_FORM = multipart_body(
    {
        "questionnaire": {**model_schema(Questionnaire), "description": "The answers, as a JSON object."},
        "submitted_by": {**model_schema(SubmittedBy), "description": "Who sent the case, as a JSON object."},
        "patient": {
            **model_schema(PatientIn),
            "description": "Who the case is about, as a JSON object (optional): the organization's patient "
            "with this external_id is found or created, and the case joins their history.",
        },
        "photos": _PHOTOS_FIELD,
    },
    ["questionnaire", "photos"],
    encoding={
        "questionnaire": _JSON_PART,
        "submitted_by": _JSON_PART,
        "patient": _JSON_PART,
        "photos": _PHOTO_TYPES,
    },
)
_ADD_PHOTOS_FORM = multipart_body({"photos": _PHOTOS_FIELD}, ["photos"], encoding={"photos": _PHOTO_TYPES})
#: what a photo upload can answer, beyond the key's own statuses
_UPLOAD_ERRORS = (*WITH_BODY, 403, 415)


def intake_service(request: Request) -> Intake:
    return request.app.state.intake


IntakeDep = Annotated[Intake, Depends(intake_service)]


def _form(request: Request) -> AbstractAsyncContextManager[FormData]:
    """The multipart form, every refusal in the error shape (``serving.api.multipart``); its spooled
    files closed afterwards."""
    limit = request.app.state.settings.max_photos_per_request
    return read_form(request, files="photos", max_files=limit, max_fields=20)


def _only_parts(form: FormData, *names: str) -> None:
    """A part the operation does not take is refused, as an unknown JSON field is."""
    unknown = sorted(set(form.keys()) - set(names))
    if unknown:
        raise DomainError(
            422,
            "unknown_field",
            f"the form has parts this operation does not take: {', '.join(map(repr, unknown[:5]))}",
            field=unknown[0],
            fix=f"Send only the parts {', '.join(map(repr, names))}.",
        )


async def _uploads(request: Request, form) -> list[Upload]:
    settings = request.app.state.settings
    files = [f for f in form.getlist("photos") if isinstance(f, UploadFile)]
    if len(form.getlist("photos")) != len(files):
        raise DomainError(
            422,
            "invalid_field",
            "'photos' must be file parts",
            field="photos",
            fix="Send each photo as a file part named 'photos'.",
        )
    if not files:
        raise DomainError(
            422,
            "no_photo",
            "the request has no photo",
            field="photos",
            fix="Attach at least one photo of the skin problem as a file part named 'photos'.",
        )
    if len(files) > settings.max_photos_per_request:
        raise DomainError(
            422,
            "too_many_photos",
            f"the request has more than {settings.max_photos_per_request} photos",
            field="photos",
            fix=f"Send at most {settings.max_photos_per_request} photos per request.",
        )
    uploads = []
    for index, upload in enumerate(files):
        name = (upload.filename or f"photo {index + 1}")[:255]
        if upload.size is not None and upload.size > settings.max_photo_bytes:
            raise DomainError(
                413,
                "photo_too_large",
                f"photos[{index}] {name!r} is {upload.size} bytes; the limit is {settings.max_photo_bytes}",
                field=f"photos[{index}]",
                fix="Send the photo as taken by the phone camera, "
                f"under {settings.max_photo_bytes // (1024 * 1024)} MB.",
            )
        uploads.append(Upload(filename=name, data=await upload.read()))
    return uploads


def _json_field(form, name: str, model: type[BaseModel], *, required: bool) -> BaseModel:
    raw = form.get(name)
    if raw is None or raw == "":
        if required:
            raise DomainError(
                422,
                "missing_field",
                f"the form field {name!r} is missing",
                field=name,
                fix=f"Send '{name}' as a JSON object in a form field.",
            )
        return model()
    if not isinstance(raw, str):
        raise DomainError(
            422,
            "invalid_field",
            f"{name!r} must be a text field holding JSON",
            field=name,
            fix=f"Send '{name}' as a form field, not a file.",
        )
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors()
        if errors and errors[0]["type"] == "json_invalid":
            raise DomainError(
                422,
                "invalid_json",
                f"{name!r} is not valid JSON: {errors[0]['msg']}",
                field=name,
                fix=f"Send '{name}' as a JSON object.",
            ) from exc
        raise validation_error(errors, prefix=name) from exc


@router.post(
    "/cases",
    status_code=201,
    response_model=CaseOut,
    openapi_extra={
        **_PHOTO_FORM,
        "parameters": [
            idempotency.parameter(
                required=True, description="One per submission; a retry with the same key gets the same case."
            )
        ],
    },
    responses={
        200: {"model": CaseOut, "description": "A retry: the case this Idempotency-Key made before."},
        **errors(*_UPLOAD_ERRORS, 400),
    },
    summary="Submit a case: photos and questionnaire; returns the triage",
)
async def submit_case(request: Request, client: CurrentClient, intake: IntakeDep):
    require(client, Role.intake, Role.admin)
    idempotency_key = idempotency.read(request, required=True)
    async with _form(request) as form:
        _only_parts(form, "questionnaire", "submitted_by", "patient", "photos")
        questionnaire = _json_field(form, "questionnaire", Questionnaire, required=True)
        submitted_by = _json_field(form, "submitted_by", SubmittedBy, required=False)
        patient = _json_field(form, "patient", PatientIn, required=True) if form.get("patient") else None
        uploads = await _uploads(request, form)
    case, created = await run_in_threadpool(
        create_case,
        intake,
        client=client,
        idempotency_key=idempotency_key,
        questionnaire=questionnaire,
        submitted_by=submitted_by,
        uploads=uploads,
        patient=patient,
    )
    body = case_out(case).model_dump(mode="json")
    return JSONResponse(
        body, status_code=201 if created else 200, headers={"Location": f"/v1/cases/{case.id}"}
    )


@router.get(
    "/cases/{case_id}",
    response_model=ClinicalCaseOut | CaseOut,
    responses=errors(404),
    summary="A case, its photos, triage and status",
    description="Dermatologist and admin keys also get the urgency model's reading of each photo "
    "(`triage.photos[].urgency_model`: calibrated malignancy and class probabilities), the case's "
    "pathology results and its outcome label; an intake key never does.",
)
def get_case(case_id: str, client: CurrentClient, intake: IntakeDep) -> CaseOut:
    case = read_case(intake, client=client, case_id=case_id)
    if client.role not in REVIEWERS:
        return case_out(case)
    with transaction(intake.sessions) as session:
        results, label = pathology.findings(session, case=case)
    return clinical_case_out(case, results, label)


@router.post(
    "/cases/{case_id}/photos",
    response_model=CaseOut,
    openapi_extra=_ADD_PHOTOS_FORM,
    responses=errors(*_UPLOAD_ERRORS, 404, 409),
    summary="More photos for a case (a retake or a follow-up); the case is triaged again",
)
async def add_photos(case_id: str, request: Request, client: CurrentClient, intake: IntakeDep) -> CaseOut:
    require(client, Role.intake, Role.admin)
    async with _form(request) as form:
        _only_parts(form, "photos")
        uploads = await _uploads(request, form)
    case = await run_in_threadpool(
        add_photos_to_case, intake, client=client, case_id=case_id, uploads=uploads
    )
    return case_out(case)


def _photo_response(client, intake: Intake, case_id: str, photo_id: str, *, thumbnail: bool):
    photo, content = read_photo(
        intake, client=client, case_id=case_id, photo_id=photo_id, thumbnail=thumbnail
    )
    media_type = "image/jpeg" if thumbnail else photo.media_type
    return Response(content, media_type=media_type, headers={"Cache-Control": "private, no-store"})


@router.get(
    "/cases/{case_id}/photos/{photo_id}/image",
    response_class=Response,
    responses={**images("image/jpeg", "image/png", description="The photo, no metadata."), **errors(404)},
    summary="A stored photo",
)
def photo_image(case_id: str, photo_id: str, client: CurrentClient, intake: IntakeDep):
    return _photo_response(client, intake, case_id, photo_id, thumbnail=False)


@router.get(
    "/cases/{case_id}/photos/{photo_id}/thumbnail",
    response_class=Response,
    responses={**images("image/jpeg", description="The photo's thumbnail."), **errors(404)},
    summary="A photo's thumbnail",
)
def photo_thumbnail(case_id: str, photo_id: str, client: CurrentClient, intake: IntakeDep):
    return _photo_response(client, intake, case_id, photo_id, thumbnail=True)

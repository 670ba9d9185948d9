"""The intake transaction Bundle, read into what ``POST /v1/cases`` takes (pure: nothing is stored
here): the QuestionnaireResponse's answers validated by the same pydantic model, the Patient as
``PatientIn``, the photos of each Media or DocumentReference (base64 ``data``) as uploads, who sent it
from the ServiceRequest's requester, and the idempotency key from ``Bundle.identifier``.

Every refusal is a DomainError whose ``field`` is a FHIRPath into the Bundle
(``Bundle.entry[2].resource.content.data``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.reference import Reference
from pydantic import ValidationError

from model.questionnaire import Questionnaire
from serving.cases.intake import Upload
from serving.cases.schemas import SubmittedBy
from serving.errors import DomainError
from serving.fhir.questionnaire import URL, UnknownAnswer, answers
from serving.patients.schemas import PatientIn

#: the resource types an intake Bundle holds, and how many of each
PHOTO_TYPES = ("Media", "DocumentReference")
ONE_AT_MOST = ("Patient", "QuestionnaireResponse", "ServiceRequest")
#: the idempotency keys of Bundles, apart from those of POST /v1/cases
KEY_PREFIX = "fhir-bundle:"
#: who sent the case, by the type of the ServiceRequest's requester
SENDERS = {
    "Patient": "patient",
    "RelatedPerson": "caregiver",
    "Practitioner": "clinician",
    "PractitionerRole": "clinician",
    "Organization": "clinician",
}


@dataclass(frozen=True)
class Submission:
    idempotency_key: str
    questionnaire: Questionnaire
    submitted_by: SubmittedBy
    patient: PatientIn | None
    uploads: list[Upload]
    #: the index in ``Bundle.entry`` of each photo's entry, and of the Patient, QR, ServiceRequest
    photo_entries: list[int]
    entries: dict[str, int]


def invalid(message: str, *, field: str, fix: str, code: str = "invalid_bundle") -> DomainError:
    return DomainError(422, code, message, fix=fix, field=field)


def _fhir_path(loc: tuple) -> str:
    path = "Bundle"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def parse_bundle(body: bytes) -> Bundle:
    """The request body as a Bundle (``fhir.resources`` validates it), of type ``transaction``."""
    try:
        bundle = Bundle.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors()
        problems = "; ".join(f"{_fhir_path(e['loc'])}: {e['msg']}" for e in errors[:10])
        first = _fhir_path(errors[0]["loc"]) if errors else "Bundle"
        raise invalid(
            f"not a valid FHIR Bundle: {problems}",
            field=first,
            fix="Send a FHIR R4 Bundle (JSON) of type 'transaction'.",
            code="invalid_resource",
        ) from exc
    if bundle.type != "transaction":
        raise invalid(
            f"a Bundle of type {bundle.type!r}",
            field="Bundle.type",
            fix="Send the intake as a Bundle of type 'transaction'.",
        )
    return bundle


def _key(bundle: Bundle) -> str:
    ident = bundle.identifier
    if ident is None or not (ident.value or "").strip():
        raise invalid(
            "the Bundle has no identifier",
            field="Bundle.identifier",
            fix="Give the Bundle an identifier (system and value) unique to this submission, and the same "
            "one when you retry it: it makes the submission idempotent.",
        )
    key = f"{KEY_PREFIX}{ident.system or ''}|{ident.value.strip()}"
    if len(key) > 255:
        raise invalid(
            "the Bundle's identifier is too long",
            field="Bundle.identifier",
            fix=f"Keep system and value under {255 - len(KEY_PREFIX) - 1} characters together.",
        )
    return key


def _entries(bundle: Bundle) -> tuple[dict[str, int], list[int]]:
    singles: dict[str, int] = {}
    photos: list[int] = []
    for index, entry in enumerate(bundle.entry or []):
        where = f"Bundle.entry[{index}]"
        if entry.resource is None:
            raise invalid(
                "an entry without a resource", field=f"{where}.resource", fix="Give each entry its resource."
            )
        if entry.request is None or entry.request.method != "POST":
            raise invalid(
                "a transaction entry that is not a POST",
                field=f"{where}.request",
                fix="Give each entry request.method 'POST' (and request.url its resource type): the intake "
                "only creates.",
            )
        kind = entry.resource.get_resource_type()
        if kind in PHOTO_TYPES:
            photos.append(index)
        elif kind in ONE_AT_MOST:
            if kind in singles:
                raise invalid(
                    f"the Bundle has more than one {kind}", field=f"{where}.resource", fix=f"Send one {kind}."
                )
            singles[kind] = index
        else:
            raise invalid(
                f"a {kind} is not part of an intake Bundle",
                field=f"{where}.resource",
                fix="Send a Patient, a QuestionnaireResponse, the photos as Media or DocumentReference and a "
                "ServiceRequest.",
            )
    return singles, photos


def _questionnaire(resource: Any, where: str) -> Questionnaire:
    canonical = (resource.questionnaire or "").split("|")[0]
    if canonical != URL:
        raise invalid(
            f"a QuestionnaireResponse for {resource.questionnaire!r}",
            field=f"{where}.questionnaire",
            fix=f"Answer the intake questionnaire: questionnaire '{URL}' (GET /fhir/R4/Questionnaire/"
            "dermatriage-intake).",
        )
    try:
        given = answers(resource.item)
    except UnknownAnswer as exc:
        raise invalid(
            str(exc),
            field=f"{where}.item.where(linkId='{exc.link_id}')",
            fix="Answer the questionnaire's items.",
        ) from exc
    try:  # the JSON API's own validation, on the same JSON
        return Questionnaire.model_validate_json(json.dumps(given))
    except ValidationError as exc:
        errors = exc.errors()
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        name = str(errors[0]["loc"][0]) if errors and errors[0]["loc"] else ""
        raise invalid(
            problems,
            field=f"{where}.item.where(linkId='{name}')" if name else f"{where}.item",
            fix=f"Correct the answer to '{name}' (the Questionnaire's item says what it takes).",
            code="invalid_field",
        ) from exc


def _patient(resource: Any, where: str) -> PatientIn:
    identifiers = [i for i in resource.identifier or [] if (i.value or "").strip()]
    if not identifiers:
        raise invalid(
            "the Patient has no identifier",
            field=f"{where}.identifier",
            fix="Give the Patient your system's id for them as an identifier (no name or e-mail needed).",
        )
    name = next(iter(resource.name or []), None)
    display = None
    if name is not None:
        display = name.text or " ".join([*(name.given or []), name.family or ""]).strip() or None
    values: dict[str, Any] = {"external_id": identifiers[0].value, "display_name": display}
    if resource.gender is not None:
        values["sex"] = resource.gender
    if resource.birthDate is not None:
        values["birth_year"] = int(str(resource.birthDate)[:4])
    try:
        return PatientIn.model_validate_json(json.dumps(values))
    except ValidationError as exc:
        error = exc.errors()[0]
        raise invalid(
            f"{'.'.join(map(str, error['loc']))}: {error['msg']}",
            field=where,
            fix="Correct the Patient: identifier value up to 128 characters, birthDate from 1900.",
            code="invalid_field",
        ) from exc


def _submitted_by(resource: Any, where: str) -> SubmittedBy:
    requester: Reference | None = resource.requester
    if requester is None:
        return SubmittedBy()
    kind = requester.type or (requester.reference or "").split("/")[0]
    role = SENDERS.get(kind)
    if role is None:
        raise invalid(
            f"a requester of type {kind!r}",
            field=f"{where}.requester",
            fix="Name the requester as a Patient, RelatedPerson (a caregiver), Practitioner, "
            "PractitionerRole or Organization (a referring practice: its name in 'display').",
        )
    values = {"role": role, "name": requester.display}
    if role == "clinician":
        values["practice"] = requester.display
    try:
        return SubmittedBy.model_validate(values)
    except ValidationError as exc:
        raise invalid(
            exc.errors()[0]["msg"],
            field=f"{where}.requester.display",
            fix="Give the referring practice's name in requester.display.",
            code="invalid_field",
        ) from exc


def _upload(resource: Any, index: int) -> Upload:
    where = f"Bundle.entry[{index}].resource"
    if resource.get_resource_type() == "Media":
        attachment, path = resource.content, f"{where}.content"
    else:
        contents = resource.content or []
        if len(contents) != 1:
            raise invalid(
                "a DocumentReference without exactly one content",
                field=f"{where}.content",
                fix="Send one photo per DocumentReference.",
            )
        attachment, path = contents[0].attachment, f"{where}.content[0].attachment"
    if attachment is None or not attachment.data:
        raise invalid(
            "a photo without data",
            field=f"{path}.data",
            fix="Send each photo's bytes base64-encoded in the attachment's 'data' (a url is not fetched).",
            code="no_photo",
        )
    return Upload(filename=(attachment.title or f"photo {index}")[:255], data=bytes(attachment.data))


def read_submission(bundle: Bundle, *, max_photos: int) -> Submission:
    """What the Bundle submits (DomainError naming the part at fault when it does not fit)."""
    key = _key(bundle)
    singles, photo_entries = _entries(bundle)
    entries = bundle.entry or []
    if "QuestionnaireResponse" not in singles:
        raise invalid(
            "the Bundle has no QuestionnaireResponse",
            field="Bundle.entry",
            fix=f"Send the answers as a QuestionnaireResponse to '{URL}'.",
            code="missing_field",
        )
    if not photo_entries:
        raise invalid(
            "the Bundle has no photo",
            field="Bundle.entry",
            fix="Send each photo of the skin problem as a Media (or DocumentReference) with the image in "
            "content.data.",
            code="no_photo",
        )
    if len(photo_entries) > max_photos:
        raise invalid(
            f"the Bundle has more than {max_photos} photos",
            field="Bundle.entry",
            fix=f"Send at most {max_photos} photos per submission.",
            code="too_many_photos",
        )

    def at(kind: str) -> tuple[Any, str] | None:
        index = singles.get(kind)
        return None if index is None else (entries[index].resource, f"Bundle.entry[{index}].resource")

    patient = at("Patient")
    request = at("ServiceRequest")
    return Submission(
        idempotency_key=key,
        questionnaire=_questionnaire(*at("QuestionnaireResponse")),
        submitted_by=SubmittedBy() if request is None else _submitted_by(*request),
        patient=None if patient is None else _patient(*patient),
        uploads=[_upload(entries[i].resource, i) for i in photo_entries],
        photo_entries=photo_entries,
        entries=singles,
    )

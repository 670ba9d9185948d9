"""Consult routes: thin. Parse, call a consult service in one transaction; its domain errors become
their JSON answers in ``serving.errors`` (a refused look-up audited first)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from serving.api.consult_common import audited_lookups, case_ref, sessions
from serving.api.openapi import AUTHENTICATED, WITH_BODY, errors
from serving.audit import record
from serving.auth import EVERYONE, REVIEWERS, Client, CurrentClient, require
from serving.cases.visibility import load_case
from serving.consults import (
    diagnoses,
    diagnosis,
    disposition,
    follow_ups,
    formulary,
    pathology,
    prescriptions,
    renewals,
    schemas,
)
from serving.db import transaction, utcnow
from serving.orgs.service import Role

router = APIRouter(prefix="/v1", tags=["consults"], responses=errors(*AUTHENTICATED))
#: what acting on a case can answer, beyond the key's own statuses
_ACT_ERRORS = errors(*WITH_BODY, 403, 404, 409)


# -- catalogues -------------------------------------------------------------------------------


@router.get(
    "/catalogue/diagnoses",
    response_model=list[schemas.DiagnosisCodeOut],
    responses=errors(422),
    summary="Search the diagnosis catalogue",
)
def search_diagnoses(
    client: CurrentClient,
    q: Annotated[
        str | None, Query(max_length=100, description="Words of the name, or a code prefix.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[schemas.DiagnosisCodeOut]:
    return [schemas.diagnosis_code_out(d) for d in diagnoses.search(q, limit=limit)]


@router.get(
    "/catalogue/medications",
    response_model=list[schemas.MedicationOut],
    responses=errors(422),
    summary="Search the formulary",
)
def search_medications(
    client: CurrentClient,
    q: Annotated[
        str | None, Query(max_length=100, description="Words of the name or class, or an RXCUI.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[schemas.MedicationOut]:
    return [schemas.medication_out(m) for m in formulary.search(q, limit=limit)]


# -- the consult record -----------------------------------------------------------------------


@router.get(
    "/cases/{case_id}/consult",
    response_model=schemas.ConsultOut,
    responses=errors(404),
    summary="Diagnoses (history), prescriptions...",
)
def get_consult(case_id: str, request: Request, client: CurrentClient) -> schemas.ConsultOut:
    """Everything decided on the case: every diagnosis (oldest first; the last is current),
    prescriptions and renewals, follow-ups, referral or closure. The intake system does not see drafts
    (held until the consult note releases them)."""

    def shown(rows):
        return [r for r in rows if not r.draft] if client.role is Role.intake else rows

    with (
        audited_lookups(request, client, action="consult.read", resource_id=case_id),
        transaction(sessions(request)) as session,
    ):
        case = load_case(session, client=client, case_id=case_id)
        out = schemas.ConsultOut(
            case=case_ref(case),
            diagnoses=[schemas.diagnosis_out(d) for d in shown(diagnosis.history(session, case=case))],
            prescriptions=[
                schemas.prescription_out(p) for p in shown(prescriptions.of_case(session, case=case))
            ],
            renewal_requests=[schemas.renewal_out(r) for r in renewals.of_case(session, case=case)],
            follow_ups=[schemas.follow_up_out(f) for f in follow_ups.of_case(session, case=case)],
            dispositions=[schemas.disposition_out(d) for d in disposition.of_case(session, case=case)],
        )
        record(session, actor=client.actor, action="consult.read", resource_type="case", resource_id=case.id)
    return out


def _act(request: Request, client: Client, *, action: str, case_id: str, call, data):
    with (
        audited_lookups(request, client, action=action, resource_id=case_id),
        transaction(sessions(request)) as session,
    ):
        return call(session, client=client, case_id=case_id, data=data, now=utcnow())


@router.post(
    "/cases/{case_id}/diagnosis",
    status_code=201,
    response_model=schemas.DiagnosisActed,
    responses=_ACT_ERRORS,
    summary="Diagnose",
)
def post_diagnosis(
    case_id: str, data: schemas.DiagnosisIn, request: Request, client: CurrentClient
) -> schemas.DiagnosisActed:
    """A coded diagnosis from GET /v1/catalogue/diagnoses. A case in review becomes 'diagnosed'; a later
    diagnosis (confirmed or revised at follow-up) is added to the history."""
    require(client, *REVIEWERS)
    case, row = _act(
        request,
        client,
        action="consult.diagnosis.create",
        case_id=case_id,
        call=diagnosis.diagnose,
        data=data,
    )
    return schemas.DiagnosisActed(case=case_ref(case), diagnosis=schemas.diagnosis_out(row))


@router.post(
    "/cases/{case_id}/pathology",
    status_code=201,
    response_model=schemas.PathologyActed,
    responses=_ACT_ERRORS,
    summary="Record a pathology result",
)
def post_pathology(
    case_id: str, data: schemas.PathologyIn, request: Request, client: CurrentClient
) -> schemas.PathologyActed:
    """A histopathology result (an ICD-10-CM code from GET /v1/catalogue/diagnoses, the report date,
    the report's words) for a case a dermatologist has started reviewing, in any status from then on
    (closed and referred included); no lease needed. The latest by report date becomes the case's
    outcome label. The case's status does not change."""
    require(client, *REVIEWERS)
    case, row, label = _act(
        request, client, action="consult.pathology.create", case_id=case_id, call=pathology.record, data=data
    )
    return schemas.PathologyActed(
        case=case_ref(case),
        pathology=schemas.pathology_out(row),
        outcome_label=schemas.outcome_label_out(label),
    )


@router.post(
    "/cases/{case_id}/prescriptions",
    status_code=201,
    response_model=schemas.PrescriptionActed,
    responses=_ACT_ERRORS,
    summary="Prescribe",
)
def post_prescription(
    case_id: str, data: schemas.PrescriptionIn, request: Request, client: CurrentClient
) -> schemas.PrescriptionActed:
    """A medication of the formulary (GET /v1/catalogue/medications) in a listed form and strength,
    for a diagnosed case."""
    require(client, *REVIEWERS)
    case, row = _act(
        request,
        client,
        action="consult.prescription.create",
        case_id=case_id,
        call=prescriptions.prescribe,
        data=data,
    )
    return schemas.PrescriptionActed(case=case_ref(case), prescription=schemas.prescription_out(row))


@router.post(
    "/cases/{case_id}/follow-ups",
    status_code=201,
    response_model=schemas.FollowUpActed,
    responses=_ACT_ERRORS,
    summary="Schedule a follow-up",
)
def post_follow_up(
    case_id: str, data: schemas.FollowUpIn, request: Request, client: CurrentClient
) -> schemas.FollowUpActed:
    """A diagnosed case waits for follow-up photos (POST /v1/cases/{id}/photos) by 'due_at'."""
    require(client, *REVIEWERS)
    case, row = _act(
        request,
        client,
        action="consult.follow_up.schedule",
        case_id=case_id,
        call=follow_ups.schedule,
        data=data,
    )
    return schemas.FollowUpActed(case=case_ref(case), follow_up=schemas.follow_up_out(row))


@router.get(
    "/follow-ups/overdue",
    response_model=list[schemas.FollowUpOut],
    responses=errors(422),
    summary="Follow-ups past their date",
)
def get_overdue(
    request: Request, client: CurrentClient, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[schemas.FollowUpOut]:
    require(client, *EVERYONE)
    with transaction(sessions(request)) as session:
        return [
            schemas.follow_up_out(f)
            for f in follow_ups.overdue(session, client=client, now=utcnow(), limit=limit)
        ]


@router.post(
    "/cases/{case_id}/retake-request",
    status_code=201,
    response_model=schemas.MessageActed,
    responses=_ACT_ERRORS,
    summary="Ask the patient for new photos",
)
def post_retake_request(
    case_id: str, data: schemas.RetakeRequestIn, request: Request, client: CurrentClient
) -> schemas.MessageActed:
    """The case waits for the patient ('awaiting_patient') until new photos arrive."""
    require(client, *REVIEWERS)
    case, row = _act(
        request,
        client,
        action="consult.retake.request",
        case_id=case_id,
        call=disposition.request_retake,
        data=data,
    )
    return schemas.MessageActed(case=case_ref(case), message=schemas.message_out(row))


@router.post(
    "/cases/{case_id}/referral",
    status_code=201,
    response_model=schemas.DispositionActed,
    responses=_ACT_ERRORS,
    summary="Refer in person",
)
def post_referral(
    case_id: str, data: schemas.ReferralIn, request: Request, client: CurrentClient
) -> schemas.DispositionActed:
    require(client, *REVIEWERS)
    case, row = _act(
        request, client, action="consult.referral.create", case_id=case_id, call=disposition.refer, data=data
    )
    return schemas.DispositionActed(case=case_ref(case), disposition=schemas.disposition_out(row))


@router.post(
    "/cases/{case_id}/close",
    response_model=schemas.DispositionActed,
    responses=_ACT_ERRORS,
    summary="Close the case",
)
def post_close(
    case_id: str, data: schemas.CloseIn, request: Request, client: CurrentClient
) -> schemas.DispositionActed:
    require(client, *REVIEWERS)
    case, row = _act(
        request, client, action="consult.case.close", case_id=case_id, call=disposition.close, data=data
    )
    return schemas.DispositionActed(case=case_ref(case), disposition=schemas.disposition_out(row))

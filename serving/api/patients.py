"""Patient routes: thin — a patient's history, a case's lesion, erasure (``serving.histories``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from serving.api.consult_common import audited_lookups, sessions
from serving.api.openapi import AUTHENTICATED, WITH_BODY, errors
from serving.auth import REVIEWERS, CurrentClient, require
from serving.db import transaction, utcnow
from serving.histories import service
from serving.histories.schemas import LesionLinked, LesionLinkIn, PatientOut
from serving.orgs.service import Role

router = APIRouter(prefix="/v1", tags=["patients"], responses=errors(*AUTHENTICATED))


@router.get(
    "/patients",
    response_model=PatientOut,
    responses=errors(404, 422),
    summary="The patient the intake system knows by external_id: cases, diagnoses, lesion timelines",
)
def find_patient(
    request: Request,
    client: CurrentClient,
    external_id: Annotated[str, Query(min_length=1, max_length=128, description="The intake system's id.")],
) -> PatientOut:
    """As GET /v1/patients/{id}; the look-up is audited by the patient's id, never by external_id."""
    with (
        audited_lookups(request, client, action="patient.read", resource_id="external_id"),
        transaction(sessions(request)) as session,
    ):
        return service.find_patient(session, client=client, external_id=external_id)


@router.get(
    "/patients/{patient_id}",
    response_model=PatientOut,
    responses=errors(404),
    summary="A patient: cases, diagnoses, prescriptions, follow-ups, each lesion's photos over time",
)
def get_patient(patient_id: str, request: Request, client: CurrentClient) -> PatientOut:
    """A dermatologist sees a patient with a case in their licensed jurisdictions, and only those
    cases; admins and the intake system every patient of their organization. Another organization's
    patient, or an erased one, is a 404."""
    with (
        audited_lookups(request, client, action="patient.read", resource_id=patient_id),
        transaction(sessions(request)) as session,
    ):
        return service.read_patient(session, client=client, patient_id=patient_id)


@router.post(
    "/cases/{case_id}/lesion",
    response_model=LesionLinked,
    responses=errors(*WITH_BODY, 403, 404, 409),
    summary="Link a case to one of its patient's lesions (an existing one, or a new one by label)",
)
def link_lesion(case_id: str, data: LesionLinkIn, request: Request, client: CurrentClient) -> LesionLinked:
    """The dermatologist holding the case (its lease), or an admin. The case's photos then join the
    lesion's timeline; a case sent without a patient is a 409."""
    require(client, *REVIEWERS)
    with (
        audited_lookups(request, client, action="case.lesion.link", resource_id=case_id),
        transaction(sessions(request)) as session,
    ):
        return service.link_lesion(session, client=client, case_id=case_id, data=data, now=utcnow())


@router.delete(
    "/patients/{patient_id}",
    status_code=204,
    response_class=Response,
    responses=errors(403, 404),
    summary="Erase a patient (GDPR/CCPA): their cases, photos, answers and messages; audit rows stay",
)
async def erase_patient(patient_id: str, request: Request, client: CurrentClient) -> Response:
    """Admins only. Idempotent: erasing an erased patient answers 204 again. Emits `patient.erased`."""
    require(client, Role.admin)
    with audited_lookups(request, client, action="patient.erase", resource_id=patient_id):
        await run_in_threadpool(
            service.erase_patient,
            sessions(request),
            request.app.state.intake.store,
            client=client,
            patient_id=patient_id,
        )
    return Response(status_code=204)

"""Renewal routes: the patient asks for more of a prescription; a licensed dermatologist decides."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from serving.api import idempotency
from serving.api.consult_common import audited_lookups, case_ref, sessions
from serving.api.openapi import AUTHENTICATED, WITH_BODY, errors
from serving.auth import REVIEWERS, CurrentClient, require
from serving.cases.models import Case
from serving.consults import renewals, schemas
from serving.db import transaction, utcnow
from serving.orgs.service import Role

router = APIRouter(prefix="/v1", tags=["consults"], responses=errors(*AUTHENTICATED))


# -- renewals ---------------------------------------------------------------------------------


@router.post(
    "/prescriptions/{prescription_id}/renewal-requests",
    status_code=201,
    response_model=schemas.RenewalRequestOut,
    openapi_extra={
        "parameters": [
            idempotency.parameter(
                required=False, description="Optional: a retry with the same key answers the first request."
            )
        ]
    },
    responses={
        200: {"model": schemas.RenewalRequestOut, "description": "A retry with the same Idempotency-Key."},
        **errors(*WITH_BODY, 400, 403, 404, 409),
    },
    summary="Ask for a renewal (intake)",
)
def post_renewal_request(
    prescription_id: str,
    data: schemas.RenewalRequestIn,
    request: Request,
    client: CurrentClient,
):
    """The renewal enters the dermatologists' queue as an item of its own, due within the organization's
    ROUTINE review time. Retries with the same Idempotency-Key return the first request."""
    require(client, Role.intake, Role.admin)
    key = idempotency.read(request, required=False)

    def attempt():
        with transaction(sessions(request)) as session:
            return renewals.request_renewal(
                session,
                client=client,
                prescription_id=prescription_id,
                data=data,
                idempotency_key=key,
                now=utcnow(),
            )

    with audited_lookups(request, client, action="consult.renewal.request", resource_id=prescription_id):
        try:
            row, created = attempt()
        except IntegrityError:
            if key is None:
                raise
            row, created = attempt()  # a concurrent retry won the key: replay it
    return JSONResponse(schemas.renewal_out(row).model_dump(mode="json"), status_code=201 if created else 200)


@router.get(
    "/renewal-requests",
    response_model=list[schemas.RenewalRequestOut],
    responses=errors(403, 422),
    summary="Pending renewals",
)
def get_renewal_requests(
    request: Request, client: CurrentClient, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[schemas.RenewalRequestOut]:
    """Pending renewal requests by due time; a dermatologist sees those of patients in their licensed
    jurisdictions."""
    require(client, *REVIEWERS)
    with transaction(sessions(request)) as session:
        return [schemas.renewal_out(r) for r in renewals.pending_for(session, client=client, limit=limit)]


@router.post(
    "/renewal-requests/{request_id}/decision",
    response_model=schemas.RenewalActed,
    responses=errors(*WITH_BODY, 403, 404, 409),
    summary="Approve or decline a renewal",
)
def post_renewal_decision(
    request_id: str, data: schemas.RenewalDecisionIn, request: Request, client: CurrentClient
) -> schemas.RenewalActed:
    """By a dermatologist licensed in the patient's jurisdiction. Approving writes a new prescription
    that renews the original."""
    require(client, Role.dermatologist)
    with (
        audited_lookups(request, client, action="consult.renewal.decide", resource_id=request_id),
        transaction(sessions(request)) as session,
    ):
        row, renewed = renewals.decide(session, client=client, request_id=request_id, data=data, now=utcnow())
        case = session.get(Case, row.case_id)
    return schemas.RenewalActed(
        case=case_ref(case),
        renewal_request=schemas.renewal_out(row),
        prescription=schemas.prescription_out(renewed) if renewed is not None else None,
    )

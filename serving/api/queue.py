"""Queue routes: thin — parse, call the queue service in one transaction (its domain errors become
their JSON answers in ``serving.errors``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, WithJsonSchema

from serving.api.openapi import AUTHENTICATED, WITH_BODY, errors
from serving.auth import REVIEWERS, CurrentClient, require
from serving.cases.schemas import case_out
from serving.consults.renewals import pending_for as pending_renewals
from serving.consults.schemas import RenewalRequestOut, renewal_out
from serving.db import transaction, utcnow
from serving.orgs.service import Role
from serving.queue import schemas, service
from serving.queue.metrics import SlaOut, sla_report

router = APIRouter(prefix="/v1", tags=["queue"], responses=errors(*AUTHENTICATED))


class QueuePageOut(BaseModel):
    as_of: datetime
    items: list[schemas.QueueItemOut] = Field(description="Queued cases, most pressing first.")
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last.")
    emergency: list[schemas.QueueItemOut] = Field(
        description="EMERGENCY cases, for immediate action (not in the asynchronous queue); first page only."
    )
    in_review: list[schemas.QueueItemOut] = Field(
        description="Cases being reviewed now and who holds them; first page only."
    )
    renewals: list[RenewalRequestOut] = Field(
        default_factory=list,
        description="Renewal requests waiting for a decision (kind 'renewal'; decide with "
        "POST /v1/renewal-requests/{id}/decision), by due time; first page only.",
    )


def _lease(request: Request) -> timedelta:
    return timedelta(minutes=request.app.state.settings.lease_minutes)


@router.get(
    "/queue",
    response_model=QueuePageOut,
    responses=errors(403, 422),
    summary="The caller's queue, most pressing first",
)
def get_queue(
    request: Request,
    client: CurrentClient,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None,
        Query(
            max_length=1000,
            description="The next_cursor of the previous page, unchanged (an opaque token: any other value "
            "is a 422); none for the first page.",
        ),
        WithJsonSchema({"type": "string", "maxLength": 1000, "format": "queue-cursor"}),
    ] = None,
) -> QueuePageOut:
    """Queued cases of the caller's organization in the caller's licensed jurisdictions (admins:
    all), ordered by review_due_at, then urgency score (higher first), then age (older first).
    The first page also lists EMERGENCY cases (for immediate action), the cases in review, and
    the renewal requests waiting for a decision."""
    require(client, *REVIEWERS)
    with transaction(request.app.state.sessions) as session:
        page = service.list_queue(session, client=client, limit=limit, cursor=cursor)
        renewals = [] if cursor else pending_renewals(session, client=client)
        now = page.as_of
        return QueuePageOut(
            as_of=now,
            items=[schemas.queue_item(c, now) for c in page.items],
            next_cursor=page.next_cursor,
            emergency=[schemas.queue_item(c, now) for c in page.emergency],
            in_review=[schemas.queue_item(c, now) for c in page.in_review],
            renewals=[renewal_out(r) for r in renewals],
        )


@router.post(
    "/queue/claim",
    response_model=schemas.ClaimOut,
    responses={204: {"description": "Nothing left to claim."}, **errors(*WITH_BODY, 403, 404, 409)},
    summary="Take the top case of the queue (or a named one) into review, under a lease",
)
def claim(request: Request, client: CurrentClient, body: schemas.ClaimIn | None = None):
    require(client, Role.dermatologist)
    case_id = body.case_id if body else None
    with transaction(request.app.state.sessions) as session:
        case = service.claim_next(session, client=client, lease=_lease(request), case_id=case_id)
        if case is None:
            return Response(status_code=204)
        return schemas.ClaimOut(case=case_out(case), lease=schemas.lease_out(case, utcnow()))


@router.post(
    "/cases/{case_id}/lease",
    response_model=schemas.LeaseOut,
    responses=errors(403, 404, 409),
    summary="Renew the lease on a case you hold",
)
def renew(case_id: str, request: Request, client: CurrentClient) -> schemas.LeaseOut:
    require(client, *REVIEWERS)
    with transaction(request.app.state.sessions) as session:
        case = service.renew_lease(session, client=client, case_id=case_id, lease=_lease(request))
        return schemas.lease_out(case, utcnow())


@router.post(
    "/cases/{case_id}/release",
    response_model=schemas.LeaseOut,
    responses=errors(*WITH_BODY, 403, 404, 409),
    summary="Put a case in review back in the queue",
)
def release(
    case_id: str, request: Request, client: CurrentClient, body: schemas.ReleaseIn | None = None
) -> schemas.LeaseOut:
    require(client, *REVIEWERS)
    with transaction(request.app.state.sessions) as session:
        case = service.release(session, client=client, case_id=case_id, reason=body.reason if body else "")
        return schemas.lease_out(case, utcnow())


@router.post(
    "/cases/{case_id}/assign",
    response_model=schemas.LeaseOut,
    responses=errors(*WITH_BODY, 403, 404, 409),
    summary="Admin: hand a case to a dermatologist",
)
def assign(case_id: str, body: schemas.AssignIn, request: Request, client: CurrentClient) -> schemas.LeaseOut:
    require(client, Role.admin)
    with transaction(request.app.state.sessions) as session:
        case = service.assign(
            session, client=client, case_id=case_id, user_id=body.user_id, lease=_lease(request)
        )
        return schemas.lease_out(case, utcnow())


@router.get(
    "/metrics/sla",
    response_model=SlaOut,
    responses=errors(403, 422),
    summary="Queue depth, compliance and predicted SLA breaches",
)
def sla_metrics(
    request: Request,
    client: CurrentClient,
    window_days: Annotated[int, Query(ge=1, le=365)] = 30,
) -> SlaOut:
    require(client, *REVIEWERS)
    with transaction(request.app.state.sessions) as session:
        return sla_report(session, org=client.organization, actor=client.actor, window_days=window_days)

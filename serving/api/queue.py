"""Queue routes: thin — parse, call the queue service in one transaction, map its errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from serving.auth import CurrentClient, require
from serving.cases.schemas import case_out
from serving.cases.service import CaseNotFound
from serving.cases.states import IllegalMove
from serving.consults.renewals import pending_for as pending_renewals
from serving.consults.schemas import renewal_out
from serving.db import transaction, utcnow
from serving.errors import ApiError
from serving.orgs.service import Role
from serving.queue import service
from serving.queue.metrics import SlaOut, sla_report
from serving.queue.schemas import (
    AssignIn,
    ClaimIn,
    ClaimOut,
    LeaseOut,
    QueuePageOut,
    ReleaseIn,
    lease_out,
    queue_item,
)

router = APIRouter(prefix="/v1", tags=["queue"])
REVIEWERS = (Role.dermatologist, Role.admin)


def lease_required_error(exc: service.LeaseRequired) -> ApiError:
    """The 409 for an action that needs the caller to hold the case (reusable by other routes)."""
    return ApiError(
        409,
        "lease_required",
        str(exc),
        fix=f"Claim the case first (POST /v1/queue/claim with case_id), or renew your lease "
        f"(POST /v1/cases/{exc.case_id}/lease) before it expires.",
        field="lease",
    )


def illegal_move_error(exc: IllegalMove) -> ApiError:
    return ApiError(
        409,
        "illegal_state",
        f"{exc}; the case is in status {exc.current.value!r}",
        fix="Reload the case and act on its current status.",
        field="status",
    )


@contextmanager
def _domain_errors(case_id: str | None = None) -> Iterator[None]:
    try:
        yield
    except CaseNotFound as exc:
        raise ApiError(
            404, "case_not_found", f"no case {case_id or str(exc)!r}", fix="Check the case id."
        ) from exc
    except IllegalMove as exc:
        raise illegal_move_error(exc) from exc
    except service.LeaseRequired as exc:
        raise lease_required_error(exc) from exc
    except service.NotAReviewer as exc:
        raise ApiError(
            403, "forbidden", str(exc), fix="Use the API key of a dermatologist (or an admin)."
        ) from exc
    except service.AssigneeNotEligible as exc:
        raise ApiError(
            422,
            "assignee_not_eligible",
            str(exc),
            fix="Assign an active dermatologist of your organization licensed in the case's jurisdiction.",
            field="user_id",
        ) from exc
    except service.InvalidCursor as exc:
        raise ApiError(
            422,
            "invalid_cursor",
            "the cursor is not one this API handed out",
            fix="Pass the next_cursor of the previous page unchanged, or omit it for the first page.",
            field="cursor",
        ) from exc


def _lease(request: Request) -> timedelta:
    return timedelta(minutes=request.app.state.settings.lease_minutes)


@router.get("/queue", response_model=QueuePageOut, summary="The caller's queue, most pressing first")
def get_queue(
    request: Request,
    client: CurrentClient,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> QueuePageOut:
    """Queued cases of the caller's organization in the caller's licensed jurisdictions (admins:
    all), ordered by review_due_at, then urgency score (higher first), then age (older first).
    The first page also lists EMERGENCY cases (for immediate action), the cases in review, and
    the renewal requests waiting for a decision."""
    require(client, *REVIEWERS)
    with _domain_errors(), transaction(request.app.state.sessions) as session:
        page = service.list_queue(session, client=client, limit=limit, cursor=cursor)
        renewals = [] if cursor else pending_renewals(session, client=client)
        now = page.as_of
        return QueuePageOut(
            as_of=now,
            items=[queue_item(c, now) for c in page.items],
            next_cursor=page.next_cursor,
            emergency=[queue_item(c, now) for c in page.emergency],
            in_review=[queue_item(c, now) for c in page.in_review],
            renewals=[renewal_out(r) for r in renewals],
        )


@router.post(
    "/queue/claim",
    response_model=ClaimOut,
    responses={204: {"description": "Nothing left to claim."}},
    summary="Take the top case of the queue (or a named one) into review, under a lease",
)
def claim(request: Request, client: CurrentClient, body: ClaimIn | None = None):
    require(client, Role.dermatologist)
    case_id = body.case_id if body else None
    with _domain_errors(case_id), transaction(request.app.state.sessions) as session:
        case = service.claim_next(session, client=client, lease=_lease(request), case_id=case_id)
        if case is None:
            return Response(status_code=204)
        return ClaimOut(case=case_out(case), lease=lease_out(case, utcnow()))


@router.post("/cases/{case_id}/lease", response_model=LeaseOut, summary="Renew the lease on a case you hold")
def renew(case_id: str, request: Request, client: CurrentClient) -> LeaseOut:
    require(client, *REVIEWERS)
    with _domain_errors(case_id), transaction(request.app.state.sessions) as session:
        case = service.renew_lease(session, client=client, case_id=case_id, lease=_lease(request))
        return lease_out(case, utcnow())


@router.post(
    "/cases/{case_id}/release", response_model=LeaseOut, summary="Put a case in review back in the queue"
)
def release(case_id: str, request: Request, client: CurrentClient, body: ReleaseIn | None = None) -> LeaseOut:
    require(client, *REVIEWERS)
    with _domain_errors(case_id), transaction(request.app.state.sessions) as session:
        case = service.release(session, client=client, case_id=case_id, reason=body.reason if body else "")
        return lease_out(case, utcnow())


@router.post(
    "/cases/{case_id}/assign", response_model=LeaseOut, summary="Admin: hand a case to a dermatologist"
)
def assign(case_id: str, body: AssignIn, request: Request, client: CurrentClient) -> LeaseOut:
    require(client, Role.admin)
    with _domain_errors(case_id), transaction(request.app.state.sessions) as session:
        case = service.assign(
            session, client=client, case_id=case_id, user_id=body.user_id, lease=_lease(request)
        )
        return lease_out(case, utcnow())


@router.get(
    "/metrics/sla", response_model=SlaOut, summary="Queue depth, compliance and predicted SLA breaches"
)
def sla_metrics(
    request: Request,
    client: CurrentClient,
    window_days: Annotated[int, Query(ge=1, le=365)] = 30,
) -> SlaOut:
    require(client, *REVIEWERS)
    with transaction(request.app.state.sessions) as session:
        return sla_report(session, org=client.organization, actor=client.actor, window_days=window_days)

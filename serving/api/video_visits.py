"""Video visit routes: thin. The dermatologist proposes a live visit, the patient (intake) picks a time,
the dermatologist marks it held and goes on with the case, or the visit is cancelled
(``serving.consults.video_visits``). Each in one transaction, audited; a refused look-up is audited
before its 404."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request

from serving.api.consult_common import audited_lookups, case_ref, sessions
from serving.api.openapi import AUTHENTICATED, WITH_BODY, errors
from serving.auth import EVERYONE, REVIEWERS, Client, CurrentClient, require
from serving.consults import video_visits
from serving.consults.visit_schemas import (
    VideoVisitActed,
    VideoVisitCancelIn,
    VideoVisitCompleteIn,
    VideoVisitConfirmIn,
    VideoVisitIn,
    VideoVisitsOut,
    video_visit_out,
)
from serving.db import transaction, utcnow
from serving.orgs.service import Role

router = APIRouter(prefix="/v1", tags=["video visits"], responses=errors(*AUTHENTICATED))
_ACT_ERRORS = errors(*WITH_BODY, 403, 404, 409)


def _act(request: Request, client: Client, *, action: str, case_id: str, call, **kwargs) -> VideoVisitActed:
    with (
        audited_lookups(request, client, action=action, resource_id=case_id),
        transaction(sessions(request)) as session,
    ):
        case, visit = call(session, client=client, case_id=case_id, now=utcnow(), **kwargs)
        return VideoVisitActed(case=case_ref(case), video_visit=video_visit_out(visit))


@router.get(
    "/cases/{case_id}/video-visits",
    response_model=VideoVisitsOut,
    responses=errors(404),
    summary="The case's video visits",
)
def get_video_visits(case_id: str, request: Request, client: CurrentClient) -> VideoVisitsOut:
    """Every video visit proposed for the case, oldest first: the times offered, the one picked, the
    join link, how it ended."""
    require(client, *EVERYONE)
    with (
        audited_lookups(request, client, action="consult.video_visit.read", resource_id=case_id),
        transaction(sessions(request)) as session,
    ):
        case, visits = video_visits.read(session, client=client, case_id=case_id)
        return VideoVisitsOut(case=case_ref(case), video_visits=[video_visit_out(v) for v in visits])


@router.post(
    "/cases/{case_id}/video-visit",
    status_code=201,
    response_model=VideoVisitActed,
    responses=_ACT_ERRORS,
    summary="Propose a live video visit",
)
def post_video_visit(
    case_id: str, data: VideoVisitIn, request: Request, client: CurrentClient
) -> VideoVisitActed:
    """The holder of the case (in review or diagnosed) proposes 1 to 5 future times and says why. The
    case waits in 'awaiting_visit', held by no one; the event case.video_visit_proposed carries the
    times and the join link built from the organization's video URL template."""
    require(client, *REVIEWERS)
    return _act(
        request,
        client,
        action="consult.video_visit.propose",
        case_id=case_id,
        call=video_visits.propose,
        data=data,
    )


@router.post(
    "/cases/{case_id}/video-visit/confirm",
    response_model=VideoVisitActed,
    responses=_ACT_ERRORS,
    summary="The patient picks a time",
)
def post_video_visit_confirm(
    case_id: str, data: VideoVisitConfirmIn, request: Request, client: CurrentClient
) -> VideoVisitActed:
    """The intake system tells the time the patient picked, one of the proposed times (another is a 422
    naming 'time'); picking again moves the appointment. Event case.video_visit_confirmed."""
    require(client, Role.intake)
    return _act(
        request,
        client,
        action="consult.video_visit.confirm",
        case_id=case_id,
        call=video_visits.confirm,
        data=data,
    )


@router.post(
    "/cases/{case_id}/video-visit/complete",
    response_model=VideoVisitActed,
    responses=_ACT_ERRORS,
    summary="The visit took place",
)
def post_video_visit_complete(
    case_id: str, data: VideoVisitCompleteIn, request: Request, client: CurrentClient
) -> VideoVisitActed:
    """The dermatologist who proposed the visit (or an admin), from 15 minutes before the confirmed time:
    the case returns to 'in_review' under that dermatologist's lease, to diagnose, prescribe and close."""
    require(client, *REVIEWERS)
    lease = timedelta(minutes=request.app.state.settings.lease_minutes)
    return _act(
        request,
        client,
        action="consult.video_visit.complete",
        case_id=case_id,
        call=video_visits.complete,
        data=data,
        lease=lease,
    )


@router.post(
    "/cases/{case_id}/video-visit/cancel",
    response_model=VideoVisitActed,
    responses=_ACT_ERRORS,
    summary="Cancel the video visit",
)
def post_video_visit_cancel(
    case_id: str, data: VideoVisitCancelIn, request: Request, client: CurrentClient
) -> VideoVisitActed:
    """By the dermatologist who proposed it, an admin, or the patient through the intake system: the
    case goes back to the queue. Event case.video_visit_cancelled."""
    require(client, *EVERYONE)
    return _act(
        request,
        client,
        action="consult.video_visit.cancel",
        case_id=case_id,
        call=video_visits.cancel,
        data=data,
    )

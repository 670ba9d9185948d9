"""Events routes: the feed (intake systems) and the webhook settings (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from serving.api.openapi import AUTHENTICATED, WITH_BODY, errors
from serving.auth import CurrentClient, require
from serving.events import service
from serving.events.schemas import FeedOut, WebhookIn, WebhookOut, event_out
from serving.orgs.service import Role

router = APIRouter(prefix="/v1", tags=["events"], responses=errors(*AUTHENTICATED))


@router.get(
    "/events",
    response_model=FeedOut,
    responses=errors(403, 422),
    summary="The organization's events, oldest first, from a cursor",
)
def feed(
    request: Request,
    client: CurrentClient,
    after: Annotated[int, Query(ge=0, le=2**63 - 1, description="The last sequence read (0 at first).")] = 0,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 100,
) -> FeedOut:
    require(client, Role.intake, Role.admin)
    page = service.read_feed(
        request.app.state.sessions, org=client.organization, actor=client.actor, after=after, limit=limit
    )
    return FeedOut(
        events=[event_out(e) for e in page.events], next_cursor=page.next_cursor, has_more=page.has_more
    )


def _webhook_out(status: service.WebhookStatus) -> WebhookOut:
    return WebhookOut(url=status.url, secret=status.secret, pending=status.pending, failed=status.failed)


@router.get(
    "/webhook", response_model=WebhookOut, responses=errors(403), summary="Where events go, and how many wait"
)
def get_webhook(request: Request, client: CurrentClient) -> WebhookOut:
    require(client, Role.admin)
    return _webhook_out(
        service.webhook_status(request.app.state.sessions, org=client.organization, actor=client.actor)
    )


@router.put(
    "/webhook",
    response_model=WebhookOut,
    responses=errors(*WITH_BODY, 403),
    summary="Set the webhook URL (the first time: a secret)",
)
def put_webhook(request: Request, client: CurrentClient, body: WebhookIn) -> WebhookOut:
    require(client, Role.admin)
    status = service.configure_webhook(
        request.app.state.sessions,
        org=client.organization,
        actor=client.actor,
        url=body.url,
        rotate_secret=body.rotate_secret,
    )
    return _webhook_out(status)


@router.delete(
    "/webhook",
    response_model=WebhookOut,
    responses=errors(403),
    summary="Stop sending events (the feed keeps them)",
)
def delete_webhook(request: Request, client: CurrentClient) -> WebhookOut:
    require(client, Role.admin)
    return _webhook_out(
        service.configure_webhook(
            request.app.state.sessions, org=client.organization, actor=client.actor, url=None
        )
    )

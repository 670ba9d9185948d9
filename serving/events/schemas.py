"""Shapes of the events feed and the webhook settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from serving.events.models import OutboxEvent
from serving.schemas import from_row


class DeliveryOut(BaseModel):
    state: str = Field(description="pending, delivered, failed (gave up) or skipped (no webhook).")
    attempts: int
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_status_code: int | None
    last_error: str | None


class EventOut(BaseModel):
    id: str = Field(description="Unique; de-duplicate on it (delivery is at least once).")
    type: str
    sequence: int = Field(description="Increases with every event; the feed's cursor.")
    created_at: datetime
    case_id: str | None
    data: dict[str, Any]
    delivery: DeliveryOut


class FeedOut(BaseModel):
    events: list[EventOut]
    next_cursor: int = Field(description="Pass as 'after' to read on from here.")
    has_more: bool


#: an absolute http(s) URL: a host, maybe a port, then a path or query; no user, password or fragment
WEBHOOK_URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#@:\[\]]+(:[0-9]*)?([/?][^#\s]*)?$"


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        description="Where events are POSTed: an absolute http(s) URL (https in production), without a user "
        "name, password or #fragment.",
        # what service.webhook_url_problem accepts, for clients reading the OpenAPI document
        json_schema_extra={"pattern": WEBHOOK_URL_PATTERN, "maxLength": 2000},
    )
    rotate_secret: bool = Field(
        default=False, strict=True, description="Make a new signing secret (the old one stops)."
    )


class WebhookOut(BaseModel):
    url: str | None
    secret: str | None = Field(
        description="The signing secret, only in the answer that made it; store it, it is not shown again."
    )
    pending: int = Field(description="Events waiting to be delivered.")
    failed: int = Field(description="Events given up on after the retry window (still in the feed).")


def event_out(event: OutboxEvent) -> EventOut:
    delivery = from_row(DeliveryOut, event, state=event.delivery_state)
    return from_row(EventOut, event, type=event.event_type, data=event.payload, delivery=delivery)

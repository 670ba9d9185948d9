"""Imports every domain's tables, so ``Base.metadata`` is complete (for Alembic)."""

from serving.audit import AuditEvent
from serving.cases.models import Case, IdempotencyRecord, Photo
from serving.consults.models import (
    Diagnosis,
    Disposition,
    FollowUp,
    Message,
    MessageAttachment,
    Prescription,
    RenewalRequest,
)
from serving.events.models import DeliveryAttempt, OutboxEvent
from serving.orgs.models import ApiKey, Organization
from serving.people.models import User

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Case",
    "DeliveryAttempt",
    "Diagnosis",
    "Disposition",
    "FollowUp",
    "IdempotencyRecord",
    "Message",
    "MessageAttachment",
    "Organization",
    "OutboxEvent",
    "Photo",
    "Prescription",
    "RenewalRequest",
    "User",
]

"""Imports every domain's tables, so ``Base.metadata`` is complete (for Alembic)."""

from serving.audit import AuditEvent
from serving.cases.models import Case, IdempotencyRecord, Photo
from serving.consults.models import (
    Diagnosis,
    Disposition,
    FollowUp,
    Message,
    MessageAttachment,
    PathologyResult,
    Prescription,
    RenewalRequest,
)
from serving.events.models import DeliveryAttempt, OutboxEvent
from serving.orgs.models import ApiKey, Organization
from serving.patients.models import Lesion, Patient
from serving.people.models import User
from serving.web.models import SignInAttempt, UserCredential, WebSession

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Case",
    "DeliveryAttempt",
    "Diagnosis",
    "Disposition",
    "FollowUp",
    "IdempotencyRecord",
    "Lesion",
    "Message",
    "MessageAttachment",
    "Organization",
    "OutboxEvent",
    "PathologyResult",
    "Patient",
    "Photo",
    "Prescription",
    "RenewalRequest",
    "SignInAttempt",
    "User",
    "UserCredential",
    "WebSession",
]

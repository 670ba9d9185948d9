"""Imports every domain's tables, so ``Base.metadata`` is complete (for Alembic)."""

from serving.audit import AuditEvent
from serving.cases.models import Case, IdempotencyRecord, Photo
from serving.orgs.models import ApiKey, Organization

__all__ = ["ApiKey", "AuditEvent", "Case", "IdempotencyRecord", "Organization", "Photo"]

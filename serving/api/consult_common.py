"""What the consult routes share: a refused look-up audited before its 404, and the case reference
every consult answer carries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request

from serving.audit import record_refused_lookup
from serving.auth import Client
from serving.consults.schemas import CaseRef
from serving.errors import NotFound


@contextmanager
def audited_lookups(request: Request, client: Client, *, action: str, resource_id: str) -> Iterator[None]:
    """A look-up that found nothing the caller may see is audited (in a transaction of its own, as the
    request's has rolled back) before its 404 goes out; every other domain error goes out as it is."""
    try:
        yield
    except NotFound as exc:
        record_refused_lookup(
            request.app.state.sessions,
            actor=client.actor,
            action=action,
            resource_type=exc.resource_type,
            resource_id=resource_id,
        )
        raise


def sessions(request: Request):
    return request.app.state.sessions


def case_ref(case) -> CaseRef:
    return CaseRef(id=case.id, status=case.status)

"""Reading a case and its photos, audited: every look-up writes an audit row, a refused one (another
organization's id, a case outside a dermatologist's licences) too, before it is reported."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from model.intake import PhotoLimits
from model.triage.engine import StageTiming, TriageEngine
from serving.audit import record, record_refused_lookup
from serving.auth import Client
from serving.cases.models import Case, Photo
from serving.cases.visibility import CaseNotFound, visible_cases
from serving.db import transaction
from serving.errors import NotFound
from serving.limits.budget import MemoryBudget
from serving.photos.store import PhotoStore

T = TypeVar("T")


@dataclass(frozen=True)
class Intake:
    """What the case service needs to work: the database, the photo store, the triage, and what
    happens when follow-up photos arrive (``on_follow_up_photos(session, case=, batch=, now=)``, which
    the consult wires in: it marks the follow-up received), and who is told how long each photo's
    stages took (``on_stage_timings(timings)``: the metrics and traces of ``serving.observability``)."""

    sessions: sessionmaker[Session]
    store: PhotoStore
    engine: TriageEngine
    limits: PhotoLimits
    on_follow_up_photos: Callable[..., object] | None = None
    on_stage_timings: Callable[[Sequence[StageTiming]], object] | None = None
    #: the memory the photos being decoded at once may hold, in this process (serving.limits.budget)
    decode_budget: MemoryBudget = field(default_factory=MemoryBudget.unlimited)


def _audited(
    sessions: sessionmaker[Session],
    *,
    client: Client,
    action: str,
    missing: NotFound,
    find: Callable[[Session], T | None],
) -> T:
    """Look something up and audit the attempt; a miss is audited (committed) before it is raised."""
    entry = {"actor": client.actor, "action": action, "resource_type": missing.resource_type}
    with transaction(sessions) as session:
        found = find(session)
        if found is not None:
            record(session, **entry, resource_id=found.id)
    if found is None:
        record_refused_lookup(sessions, **entry, resource_id=missing.ident)
        raise missing
    return found


def read_case(intake: Intake, *, client: Client, case_id: str) -> Case:
    return _audited(
        intake.sessions,
        client=client,
        action="case.read",
        missing=CaseNotFound(case_id),
        find=lambda session: session.scalar(visible_cases(client).where(Case.id == case_id)),
    )


def read_photo(
    intake: Intake, *, client: Client, case_id: str, photo_id: str, thumbnail: bool
) -> tuple[Photo, bytes]:
    """A photo of a case the caller may see, and its bytes (or its thumbnail's)."""
    photo = _audited(
        intake.sessions,
        client=client,
        action="photo.thumbnail.read" if thumbnail else "photo.read",
        missing=NotFound("photo", photo_id),
        find=lambda session: session.scalar(
            visible_cases(client, select(Photo).join(Case, Case.id == Photo.case_id)).where(
                Photo.id == photo_id, Photo.case_id == case_id
            )
        ),
    )
    return photo, intake.store.read(photo.thumbnail_key if thumbnail else photo.storage_key)

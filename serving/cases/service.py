"""Intake: create a case from a submission, add photos to a case, read a case.

Keyword-only functions; routes parse, call these, and map domain errors to HTTP.
Order of work for a submission: validate and sanitize every photo in memory (nothing written
yet), triage, write the photo files (content-addressed, so a retry rewrites nothing), then one
transaction inserts the idempotency record, the case, its photos and the audit row. If that
transaction fails, the files this request created are removed unless a photo row uses them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from model.questionnaire import Questionnaire
from serving.audit import Actor, record
from serving.cases.models import Case, IdempotencyRecord, Photo
from serving.cases.schemas import SubmittedBy
from serving.cases.states import (
    CaseStatus,
    IllegalMove,
    accepts_photos,
    status_after_new_photos,
    status_on_intake,
    transition,
)
from serving.db import new_id, transaction, utcnow
from serving.cases.events import emit_after_triage
from serving.orgs.models import Organization
from serving.orgs.service import sla_policy
from model.intake import IngestedPhoto, PhotoLimits, PhotoRejected, ingest_photo
from serving.photos.store import PhotoStore
from model.triage.decision import ACCEPT_VERDICT, TriageDecision
from model.triage.engine import PhotoAssessment, TriageEngine

CREATE_CASE = "case.create"


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


@dataclass(frozen=True)
class Intake:
    """What the case service needs to work: the database, the photo store and the triage."""

    sessions: sessionmaker[Session]
    store: PhotoStore
    engine: TriageEngine
    limits: PhotoLimits


class CaseNotFound(Exception):
    pass


class BadPhoto(Exception):
    """Photo number ``index`` of the request was refused (nothing was kept)."""

    def __init__(self, index: int, rejection: PhotoRejected):
        super().__init__(rejection.message)
        self.index = index
        self.rejection = rejection


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before for a different request."""


@dataclass(frozen=True)
class _Assessed:
    photo: IngestedPhoto
    assessment: PhotoAssessment

    @property
    def quality(self) -> dict:
        return self.assessment.quality


@dataclass(frozen=True)
class _Stored:
    keys: list[tuple[str, str]]  # (photo key, thumbnail key) per photo, in order
    created: list[str]  # the keys this request created (removed again if its transaction fails)


def fingerprint(questionnaire: Questionnaire, submitted_by: SubmittedBy, uploads: Sequence[Upload]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps(questionnaire.model_dump(mode="json"), sort_keys=True).encode())
    h.update(json.dumps(submitted_by.model_dump(mode="json"), sort_keys=True).encode())
    for upload in uploads:
        h.update(hashlib.sha256(upload.data).digest())
    return h.hexdigest()


def get_case(session: Session, *, org: Organization, case_id: str, for_update: bool = False) -> Case:
    """A case of this organization; another organization's case does not exist for the caller."""
    query = select(Case).where(Case.id == case_id, Case.organization_id == org.id)
    if for_update:
        query = query.with_for_update()
    case = session.scalar(query)
    if case is None:
        raise CaseNotFound(case_id)
    return case


def _audited_lookup(intake: Intake, *, actor: Actor, action: str, resource_type: str, resource_id: str, find):
    """Look something up and audit the attempt; a miss is audited (committed) before it is reported."""
    with transaction(intake.sessions) as session:
        found = find(session)
        record(
            session,
            actor=actor,
            action=action,
            resource_type=resource_type,
            resource_id=found.id if found is not None else resource_id[:64],
            outcome="ok" if found is not None else "not_found",
        )
    if found is None:
        raise CaseNotFound(resource_id)
    return found


def _licensed(query, licences: frozenset[str] | None):
    """A dermatologist sees only patients in the jurisdictions they are licensed in (None: no filter,
    for the intake system and admins of the organization)."""
    return query if licences is None else query.where(Case.jurisdiction.in_(sorted(licences)))


def read_case(
    intake: Intake, *, org: Organization, actor: Actor, case_id: str, licences: frozenset[str] | None = None
) -> Case:
    return _audited_lookup(
        intake,
        actor=actor,
        action="case.read",
        resource_type="case",
        resource_id=case_id,
        find=lambda session: session.scalar(
            _licensed(select(Case).where(Case.id == case_id, Case.organization_id == org.id), licences)
        ),
    )


def read_photo(
    intake: Intake,
    *,
    org: Organization,
    actor: Actor,
    case_id: str,
    photo_id: str,
    thumbnail: bool,
    licences: frozenset[str] | None = None,
) -> tuple[Photo, bytes]:
    photo = _audited_lookup(
        intake,
        actor=actor,
        action="photo.thumbnail.read" if thumbnail else "photo.read",
        resource_type="photo",
        resource_id=photo_id,
        find=lambda session: session.scalar(
            _licensed(
                select(Photo)
                .join(Case, Case.id == Photo.case_id)
                .where(Photo.id == photo_id, Photo.case_id == case_id, Photo.organization_id == org.id),
                licences,
            )
        ),
    )
    return photo, intake.store.read(photo.thumbnail_key if thumbnail else photo.storage_key)


def _assess(intake: Intake, uploads: Sequence[Upload], questionnaire: Questionnaire) -> list[_Assessed]:
    assessed = []
    for index, upload in enumerate(uploads):
        try:
            photo = ingest_photo(upload.data, filename=upload.filename, limits=intake.limits)
        except PhotoRejected as exc:
            raise BadPhoto(index, exc) from exc
        assessed.append(_Assessed(photo=photo, assessment=intake.engine.assess_photo(photo, questionnaire)))
    return assessed


def _write_files(store: PhotoStore, assessed: Sequence[_Assessed]) -> _Stored:
    keys, created = [], []
    for item in assessed:
        pair = []
        for content, sha, suffix in (
            (item.photo.content, item.photo.sha256, item.photo.suffix),
            (item.photo.thumbnail, hashlib.sha256(item.photo.thumbnail).hexdigest(), "jpg"),
        ):
            key, was_created = store.put(content, sha256=sha, suffix=suffix)
            pair.append(key)
            if was_created:
                created.append(key)
        keys.append((pair[0], pair[1]))
    return _Stored(keys=keys, created=created)


def _restore_missing(store: PhotoStore, assessed: Sequence[_Assessed], stored: _Stored) -> None:
    """After commit: a concurrent request that failed may have removed a file both wrote; put it back."""
    for item, (key, thumbnail_key) in zip(assessed, stored.keys, strict=True):
        if not store.exists(key):
            store.put(item.photo.content, sha256=item.photo.sha256, suffix=item.photo.suffix)
        if not store.exists(thumbnail_key):
            thumbnail = item.photo.thumbnail
            store.put(thumbnail, sha256=hashlib.sha256(thumbnail).hexdigest(), suffix="jpg")


def _remove_orphans(intake: Intake, keys: Sequence[str]) -> None:
    if not keys:
        return
    with transaction(intake.sessions) as session:
        for key in keys:
            if not session.scalar(
                select(exists().where(or_(Photo.storage_key == key, Photo.thumbnail_key == key)))
            ):
                intake.store.delete(key)


def _photo_rows(case: Case, assessed: Sequence[_Assessed], stored: _Stored, *, batch: int) -> list[Photo]:
    rows = []
    for position, (item, (key, thumbnail_key)) in enumerate(zip(assessed, stored.keys, strict=True), start=1):
        p = item.photo
        rows.append(
            Photo(
                case_id=case.id,
                organization_id=case.organization_id,
                batch=batch,
                position=position,
                sha256=p.sha256,
                storage_key=key,
                thumbnail_key=thumbnail_key,
                media_type=p.media_type,
                source_format=p.source_format,
                width=p.width,
                height=p.height,
                size_bytes=len(p.content),
                quality_verdict=item.quality["verdict"],
                quality_score=item.quality["score"],
                quality=item.quality,
                predictions=item.assessment.predictions,
            )
        )
    return rows


def _apply_triage(
    case: Case, decision: TriageDecision, *, org: Organization, versions: dict[str, str]
) -> None:
    now = utcnow()
    case.tier = decision.tier.value
    case.urgency_score = decision.urgency_score
    case.retake_required = decision.retake_required
    case.reasons = list(decision.reasons)
    case.patient_advice = list(decision.patient_advice)
    case.model_versions = dict(versions)
    case.triaged_at = now
    if case.status != CaseStatus.awaiting_retake.value and case.queued_at is None:
        case.queued_at = now  # the SLA clock starts with the first usable submission
    # the clock restarts whenever the case (re-)enters the queue: a follow-up or an answer from the
    # patient is new work, not an old case overdue since its first submission
    started = case.last_queued_at or case.queued_at
    case.review_due_at = sla_policy(org).due_at(started, decision.tier) if started else None


def create_case(
    intake: Intake,
    *,
    org: Organization,
    actor: Actor,
    idempotency_key: str,
    questionnaire: Questionnaire,
    submitted_by: SubmittedBy,
    uploads: Sequence[Upload],
) -> tuple[Case, bool]:
    """Create a case, or return the one an earlier request with the same key made.

    Returns (case, created). Raises BadPhoto for a refused photo, IdempotencyConflict when the
    key named a different request.
    """
    fp = fingerprint(questionnaire, submitted_by, uploads)
    existing = _replay(intake, org=org, actor=actor, key=idempotency_key, fp=fp)
    if existing is not None:
        return existing, False

    assessed = _assess(intake, uploads, questionnaire)
    decision = intake.engine.decide(questionnaire, [a.assessment for a in assessed])
    stored = _write_files(intake.store, assessed)
    try:
        with transaction(intake.sessions) as session:
            # The idempotency row goes first: a concurrent retry waits or fails right here.
            case_id = new_id()
            session.add(
                IdempotencyRecord(
                    organization_id=org.id,
                    key=idempotency_key,
                    operation=CREATE_CASE,
                    fingerprint=fp,
                    case_id=case_id,
                )
            )
            session.flush()
            now = utcnow()
            case = Case(
                id=case_id,
                organization_id=org.id,
                status=status_on_intake(decision).value,
                jurisdiction=questionnaire.jurisdiction,
                questionnaire=questionnaire.model_dump(mode="json"),
                submitted_by=submitted_by.model_dump(mode="json"),
                created_at=now,
                updated_at=now,
            )
            _apply_triage(case, decision, org=org, versions=intake.engine.model_versions)
            session.add(case)
            session.flush()
            rows = _photo_rows(case, assessed, stored, batch=1)
            session.add_all(rows)
            record(
                session,
                actor=actor,
                action="case.create",
                resource_type="case",
                resource_id=case.id,
                detail={"photos": len(assessed), "tier": case.tier, "status": case.status},
            )
            emit_after_triage(session, case, previous_status=None, new_photos=rows)
    except IntegrityError:
        _remove_orphans(intake, stored.created)
        existing = _replay(intake, org=org, actor=actor, key=idempotency_key, fp=fp)
        if existing is None:
            raise
        return existing, False
    except BaseException:
        _remove_orphans(intake, stored.created)
        raise
    _restore_missing(intake.store, assessed, stored)
    return read_case(intake, org=org, actor=actor, case_id=case_id), True


def _replay(intake: Intake, *, org: Organization, actor: Actor, key: str, fp: str) -> Case | None:
    with transaction(intake.sessions) as session:
        rec = session.get(IdempotencyRecord, (org.id, key))
        if rec is None:
            return None
        if rec.operation != CREATE_CASE or rec.fingerprint != fp:
            record(
                session,
                actor=actor,
                action="case.create",
                resource_type="case",
                resource_id=rec.case_id,
                outcome="idempotency_conflict",
            )
            raise IdempotencyConflict(key)
        case = get_case(session, org=org, case_id=rec.case_id)
        record(session, actor=actor, action="case.create.replay", resource_type="case", resource_id=case.id)
        return case


def add_photos(
    intake: Intake, *, org: Organization, actor: Actor, case_id: str, uploads: Sequence[Upload]
) -> Case:
    """More photos for a case (a retake or a follow-up): stored as a new batch, case triaged again."""
    existing = read_case(intake, org=org, actor=actor, case_id=case_id)
    if not accepts_photos(CaseStatus(existing.status)):  # refuse a closed case before doing any work
        raise IllegalMove(CaseStatus(existing.status), "photos added")
    questionnaire = Questionnaire.model_validate(existing.questionnaire)

    assessed = _assess(intake, uploads, questionnaire)
    stored = _write_files(intake.store, assessed)
    try:
        with transaction(intake.sessions) as session:
            case = get_case(session, org=org, case_id=case_id, for_update=True)
            batch = max((p.batch for p in case.photos), default=0) + 1
            rows = _photo_rows(case, assessed, stored, batch=batch)
            session.add_all(rows)
            earlier = [PhotoAssessment(quality=p.quality, predictions=p.predictions) for p in case.photos]
            decision = intake.engine.decide(questionnaire, earlier + [a.assessment for a in assessed])
            previous_status = case.status
            new_usable = any(a.assessment.quality["verdict"] == ACCEPT_VERDICT for a in assessed)
            target = status_after_new_photos(CaseStatus(case.status), decision, new_usable=new_usable)
            transition(session, case, target, actor=actor, reason=f"photos added (batch {batch})")
            if previous_status == CaseStatus.follow_up_scheduled and target != previous_status:
                # usable follow-up photos answer the follow-up (consults imports this module: import here)
                from serving.consults.follow_ups import mark_received

                mark_received(session, case=case, batch=batch, now=utcnow())
            _apply_triage(case, decision, org=org, versions=intake.engine.model_versions)
            case.updated_at = utcnow()
            record(
                session,
                actor=actor,
                action="case.photos.add",
                resource_type="case",
                resource_id=case.id,
                detail={"batch": batch, "photos": len(rows), "tier": case.tier, "status": case.status},
            )
            emit_after_triage(session, case, previous_status=previous_status, new_photos=rows)
    except BaseException:
        _remove_orphans(intake, stored.created)
        raise
    _restore_missing(intake.store, assessed, stored)
    return read_case(intake, org=org, actor=actor, case_id=case_id)

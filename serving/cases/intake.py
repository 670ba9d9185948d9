"""Intake: create a case from a submission, add photos to a case.

Keyword-only functions; routes parse, call these, and the domain errors they raise become HTTP.
Order of work for a submission: validate and sanitize every photo in memory (nothing written yet),
triage, write the photo files (``serving.photos.files``), then one transaction inserts the
idempotency record, the case, its photos, the audit row and the events. If that transaction fails,
the files this request created are removed unless a row uses them.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from model.intake import IngestedPhoto, PhotoRejected
from model.questionnaire import Questionnaire
from model.triage.decision import TriageDecision
from model.triage.engine import PhotoAssessment, StageTiming
from serving.audit import record, record_case
from serving.auth import Client
from serving.cases.events import emit_after_triage
from serving.cases.models import Case, IdempotencyRecord, Photo
from serving.cases.reads import Intake, read_case
from serving.cases.schemas import SubmittedBy
from serving.cases.states import (
    accepts_photos,
    photos_refused,
    set_review_due,
    status_after_new_photos,
    status_on_intake,
    transition,
)
from serving.cases.status import CaseStatus
from serving.cases.visibility import load_case
from serving.db import new_id, transaction, utcnow
from serving.errors import DomainError
from serving.limits.budget import ingest_within
from serving.orgs.models import Organization
from serving.orgs.service import sla_policy
from serving.patients.schemas import PatientIn
from serving.patients.service import find_or_create_lesion, find_or_create_patient
from serving.photos.files import StoredPhotos, remove_orphans, restore_missing, store_photos

CREATE_CASE = "case.create"


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


class BadPhoto(DomainError):
    """Photo number ``index`` of the request was refused (nothing was kept)."""

    def __init__(self, index: int, rejection: PhotoRejected):
        self.index = index
        self.rejection = rejection
        super().__init__(
            rejection.status_code,
            rejection.code,
            rejection.message,
            fix=rejection.fix,
            field=f"photos[{index}]",
        )


class IdempotencyConflict(DomainError):
    """The Idempotency-Key was used before for a different request."""

    def __init__(self, key: str):
        self.key = key
        super().__init__(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was already used for a different submission",
            field="Idempotency-Key",
            fix="Use a new Idempotency-Key for a new submission.",
        )


@dataclass(frozen=True)
class _Assessed:
    photos: list[IngestedPhoto]
    assessments: list[PhotoAssessment]


def fingerprint(
    questionnaire: Questionnaire,
    submitted_by: SubmittedBy,
    uploads: Sequence[Upload],
    patient: PatientIn | None = None,
) -> str:
    h = hashlib.sha256()
    answers = questionnaire.model_dump(mode="json")
    # unset, as before these fields existed: keys used then still match
    for later in ("language", "capture_device", "lesion_label", "consent_research"):
        if answers.get(later) in (None, False):
            answers.pop(later, None)
    h.update(json.dumps(answers, sort_keys=True).encode())
    h.update(json.dumps(submitted_by.model_dump(mode="json"), sort_keys=True).encode())
    if patient is not None:
        h.update(json.dumps({"patient": patient.model_dump(mode="json")}, sort_keys=True).encode())
    for upload in uploads:
        h.update(hashlib.sha256(upload.data).digest())
    return h.hexdigest()


def _assess(intake: Intake, uploads: Sequence[Upload], questionnaire: Questionnaire) -> _Assessed:
    """Decode and judge each photo; how long each stage took goes to ``intake.on_stage_timings``."""
    photos, assessments = [], []
    for index, upload in enumerate(uploads):
        started = time.time_ns()
        try:
            photo = ingest_within(
                intake.decode_budget, upload.data, filename=upload.filename, limits=intake.limits
            )
        except PhotoRejected as exc:
            raise BadPhoto(index, exc) from exc
        decoded = StageTiming.since("decode", started)
        photos.append(photo)
        assessment = intake.engine.assess_photo(photo, questionnaire)
        assessments.append(assessment)
        if intake.on_stage_timings is not None:
            intake.on_stage_timings((decoded, *assessment.timings))
    return _Assessed(photos=photos, assessments=assessments)


def _photo_rows(case: Case, assessed: _Assessed, stored: StoredPhotos, *, batch: int) -> list[Photo]:
    rows = []
    items = zip(assessed.photos, assessed.assessments, stored.columns(), strict=True)
    for position, (photo, assessment, columns) in enumerate(items, start=1):
        quality = assessment.quality
        rows.append(
            Photo(
                **columns,
                case_id=case.id,
                organization_id=case.organization_id,
                batch=batch,
                position=position,
                created_at=utcnow(),
                source_format=photo.source_format,
                quality=quality,
                quality_verdict=quality.verdict,
                quality_score=quality.score,
                predictions=assessment.predictions,
            )
        )
    return rows


def _apply_triage(
    case: Case, decision: TriageDecision, *, org: Organization, versions: dict[str, str]
) -> None:
    now = utcnow()
    case.tier = decision.tier
    case.urgency_score = decision.urgency_score
    case.retake_required = decision.retake_required
    if decision.care_setting is None:
        raise ValueError("a triage without a care setting (TriageEngine.decide sets one on every triage)")
    case.care_setting = decision.care_setting.value
    # the care setting's reasons follow the triage's (fixed texts: schemas.care_setting_reasons finds them)
    case.reasons = list(dict.fromkeys([*decision.reasons, *decision.care_setting_reasons]))
    case.patient_advice = list(decision.patient_advice)
    case.model_versions = dict(versions)
    case.triaged_at = now
    if case.status is not CaseStatus.awaiting_retake and case.queued_at is None:
        case.queued_at = now  # the SLA clock starts with the first usable submission
    # the queue's clock restarts whenever the case (re-)enters the queue: a follow-up or an answer from
    # the patient is new work, not an old case overdue since its first submission; the first review's
    # due time, which the SLA figures judge, is kept once a dermatologist has taken the case
    started = case.last_queued_at or case.queued_at
    set_review_due(case, sla_policy(org).due_at(started, decision.tier) if started else None)


def _link_patient(
    session: Session, case: Case, patient: PatientIn | None, questionnaire: Questionnaire
) -> None:
    if patient is None:
        return
    found = find_or_create_patient(session, organization_id=case.organization_id, patient=patient)
    case.patient_id = found.id
    if questionnaire.lesion_label is not None:
        site = None if questionnaire.body_site is None else questionnaire.body_site.value
        case.lesion_id = find_or_create_lesion(
            session, patient=found, label=questionnaire.lesion_label, body_site=site
        ).id


def create_case(
    intake: Intake,
    *,
    client: Client,
    idempotency_key: str,
    questionnaire: Questionnaire,
    submitted_by: SubmittedBy,
    uploads: Sequence[Upload],
    patient: PatientIn | None = None,
) -> tuple[Case, bool]:
    """Create a case, or return the one an earlier request with the same key made; with ``patient``,
    the case is the organization's patient's (found or created by external id), and with
    ``questionnaire.lesion_label`` it shows that patient's lesion (found or created by label).

    Returns (case, created). Raises BadPhoto for a refused photo, IdempotencyConflict when the
    key named a different request.
    """
    fp = fingerprint(questionnaire, submitted_by, uploads, patient)
    existing = _replay(intake, client=client, key=idempotency_key, fp=fp)
    if existing is not None:
        return existing, False

    org = client.organization
    assessed = _assess(intake, uploads, questionnaire)
    decision = intake.engine.decide(questionnaire, assessed.assessments)
    stored = store_photos(intake.store, assessed.photos)
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
                status=status_on_intake(decision),
                jurisdiction=questionnaire.jurisdiction,
                questionnaire=questionnaire.model_dump(mode="json"),
                submitted_by=submitted_by.model_dump(mode="json"),
                created_at=now,
                updated_at=now,
            )
            _apply_triage(case, decision, org=org, versions=intake.engine.model_versions)
            case.submitted_tier = decision.tier  # kept when a retake or follow-up triages it again
            _link_patient(session, case, patient, questionnaire)
            session.add(case)
            session.flush()
            rows = _photo_rows(case, assessed, stored, batch=1)
            session.add_all(rows)
            record_case(
                session,
                client.actor,
                "case.create",
                case.id,
                {
                    "photos": len(rows),
                    "tier": case.tier.value,
                    "care_setting": case.care_setting,
                    "status": case.status.value,
                },
            )
            emit_after_triage(session, case, previous_status=None, new_photos=rows)
    except IntegrityError:
        remove_orphans(intake.sessions, intake.store, stored.created)
        existing = _replay(intake, client=client, key=idempotency_key, fp=fp)
        if existing is None:
            raise
        return existing, False
    except BaseException:
        remove_orphans(intake.sessions, intake.store, stored.created)
        raise
    restore_missing(intake.store, stored)
    return read_case(intake, client=client, case_id=case_id), True


def _replay(intake: Intake, *, client: Client, key: str, fp: str) -> Case | None:
    with transaction(intake.sessions) as session:
        rec = session.get(IdempotencyRecord, (client.organization.id, key))
        if rec is None:
            return None
        if rec.operation != CREATE_CASE or rec.fingerprint != fp:
            record(
                session,
                actor=client.actor,
                action="case.create",
                resource_type="case",
                resource_id=rec.case_id,
                outcome="idempotency_conflict",
            )
            raise IdempotencyConflict(key)
        case = load_case(session, client=client, case_id=rec.case_id)
        record_case(session, client.actor, "case.create.replay", case.id)
        return case


def add_photos(intake: Intake, *, client: Client, case_id: str, uploads: Sequence[Upload]) -> Case:
    """More photos for a case (a retake or a follow-up): stored as a new batch, case triaged again."""
    existing = read_case(intake, client=client, case_id=case_id)
    if not accepts_photos(existing.status):  # refuse a closed case before doing any work
        raise photos_refused(existing.status)
    questionnaire = Questionnaire.model_validate(existing.questionnaire)

    assessed = _assess(intake, uploads, questionnaire)
    stored = store_photos(intake.store, assessed.photos)
    try:
        with transaction(intake.sessions) as session:
            case = load_case(session, client=client, case_id=case_id, for_update=True)
            batch = max((p.batch for p in case.photos), default=0) + 1
            rows = _photo_rows(case, assessed, stored, batch=batch)
            session.add_all(rows)
            earlier = [PhotoAssessment(quality=p.quality, predictions=p.predictions) for p in case.photos]
            decision = intake.engine.decide(questionnaire, earlier + assessed.assessments)
            previous_status = case.status
            new_usable = any(a.quality.usable for a in assessed.assessments)
            target = status_after_new_photos(case.status, decision, new_usable=new_usable)
            transition(session, case, target, actor=client.actor, reason=f"photos added (batch {batch})")
            now = utcnow()
            answered = previous_status is CaseStatus.follow_up_scheduled and target is not previous_status
            if answered and intake.on_follow_up_photos is not None:
                intake.on_follow_up_photos(session, case=case, batch=batch, now=now)
            _apply_triage(case, decision, org=client.organization, versions=intake.engine.model_versions)
            case.updated_at = now
            record_case(
                session,
                client.actor,
                "case.photos.add",
                case.id,
                {
                    "batch": batch,
                    "photos": len(rows),
                    "tier": case.tier.value,
                    "care_setting": case.care_setting,
                    "status": case.status.value,
                },
            )
            emit_after_triage(session, case, previous_status=previous_status, new_photos=rows)
    except BaseException:
        remove_orphans(intake.sessions, intake.store, stored.created)
        raise
    restore_missing(intake.store, stored)
    return read_case(intake, client=client, case_id=case_id)

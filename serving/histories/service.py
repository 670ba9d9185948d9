"""A patient's history, the link of a case to a lesion, and erasure.

Who may see a patient: the organization's admins and intake system; a dermatologist only a patient
with a case they may see (``visible_cases``), and of them only those cases. Any other patient does
not exist for the caller (:class:`PatientNotFound`, 404). Every read and write is audited; audit rows
name patients by their random id only, never by external id or name (they survive erasure).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session, sessionmaker

from serving.audit import record
from serving.auth import Client
from serving.cases.models import Case, Photo
from serving.cases.visibility import load_case, visible_cases
from serving.consults import diagnosis, follow_ups, prescriptions
from serving.consults.models import Message, MessageAttachment
from serving.consults.schemas import diagnosis_out, follow_up_out, prescription_out
from serving.db import Base, transaction, utcnow
from serving.errors import DomainError, NotFound
from serving.events import types
from serving.events.models import DeliveryAttempt, OutboxEvent
from serving.events.outbox import emit
from serving.histories.schemas import (
    LesionLinked,
    LesionLinkIn,
    LesionOut,
    PatientCaseOut,
    PatientOut,
    TimelinePhotoOut,
)
from serving.labels.export import exports_holding
from serving.labels.rows import pseudonym
from serving.orgs.service import Role
from serving.patients.models import Lesion, Patient
from serving.patients.service import find_or_create_lesion
from serving.photos.files import remove_orphans
from serving.photos.store import PhotoStore
from serving.queue.service import require_lease
from serving.schemas import from_row, image_urls


class PatientNotFound(NotFound):
    def __init__(self, ident: str | None, *, fix: str = "Check the patient's id."):
        super().__init__("patient", ident or "", fix=fix)
        if ident is None:  # looked up by external_id: not repeated back (nor into logs)
            self.message = "no patient with this external_id"


def visible_patients(client: Client) -> Select:
    """The patients the caller may see (not erased)."""
    query = select(Patient).where(
        Patient.organization_id == client.organization.id, Patient.erased_at.is_(None)
    )
    if client.role is Role.dermatologist:
        query = query.where(Patient.id.in_(visible_cases(client, select(Case.patient_id))))
    return query


def _history(session: Session, client: Client, patient: Patient) -> PatientOut:
    cases = list(
        session.scalars(
            visible_cases(client).where(Case.patient_id == patient.id).order_by(Case.created_at, Case.id)
        )
    )
    case_rows = [
        from_row(
            PatientCaseOut,
            case,
            diagnoses=[diagnosis_out(d) for d in diagnosis.history(session, case=case)],
            prescriptions=[prescription_out(p) for p in prescriptions.of_case(session, case=case)],
            follow_ups=[follow_up_out(f) for f in follow_ups.of_case(session, case=case)],
        )
        for case in cases
    ]
    lesions = session.scalars(
        select(Lesion).where(Lesion.patient_id == patient.id).order_by(Lesion.created_at, Lesion.id)
    )
    return from_row(
        PatientOut, patient, cases=case_rows, lesions=[_lesion_out(lesion, cases) for lesion in lesions]
    )


def _lesion_out(lesion: Lesion, cases: list[Case]) -> LesionOut:
    """The lesion and its photos over time, from the cases (the caller may see) that show it."""
    photos = sorted(
        (p for case in cases if case.lesion_id == lesion.id for p in case.photos),
        key=lambda p: (p.created_at, p.batch, p.position, p.id),
    )
    timeline = [
        from_row(TimelinePhotoOut, p, **image_urls(f"/v1/cases/{p.case_id}/photos/{p.id}")) for p in photos
    ]
    return from_row(LesionOut, lesion, photos=timeline)


def _audit(session: Session, client: Client, action: str, patient_id: str, **detail) -> None:
    record(
        session,
        actor=client.actor,
        action=action,
        resource_type="patient",
        resource_id=patient_id,
        detail=detail or None,
    )


def read_patient(session: Session, *, client: Client, patient_id: str) -> PatientOut:
    patient = session.scalar(visible_patients(client).where(Patient.id == patient_id))
    if patient is None:
        raise PatientNotFound(patient_id)
    _audit(session, client, "patient.read", patient.id)
    return _history(session, client, patient)


def find_patient(session: Session, *, client: Client, external_id: str) -> PatientOut:
    """The patient the intake system knows as ``external_id`` (audited by the patient's id only)."""
    patient = session.scalar(visible_patients(client).where(Patient.external_id == external_id))
    if patient is None:
        raise PatientNotFound(
            None, fix="Check the external_id: a patient exists once a case was sent for them."
        )
    _audit(session, client, "patient.read", patient.id, by="external_id")
    return _history(session, client, patient)


class CaseHasNoPatient(DomainError):
    def __init__(self, case_id: str):
        super().__init__(
            409,
            "case_has_no_patient",
            f"case {case_id!r} was sent without a patient, so it has no lesions to link to",
            fix="Only a case sent with a 'patient' can be linked to one of the patient's lesions.",
        )


def link_lesion(
    session: Session, *, client: Client, case_id: str, data: LesionLinkIn, now: datetime
) -> LesionLinked:
    """Link the case (the dermatologist holds it; an admin any) to a lesion of its patient: an
    existing one, or one found or made by label."""
    case = load_case(session, client=client, case_id=case_id, for_update=True)
    require_lease(session, case=case, client=client, now=now)
    if case.patient_id is None:
        raise CaseHasNoPatient(case.id)
    if data.lesion_id is not None:
        lesion = session.scalar(
            select(Lesion).where(Lesion.id == data.lesion_id, Lesion.patient_id == case.patient_id)
        )
        if lesion is None:
            raise NotFound("lesion", data.lesion_id, fix="Use a lesion id of this case's patient.")
    else:
        patient = session.get(Patient, case.patient_id)
        site = None if data.body_site is None else data.body_site.value
        lesion = find_or_create_lesion(session, patient=patient, label=data.label, body_site=site)
    case.lesion_id = lesion.id
    case.updated_at = now
    session.flush()
    _audit(session, client, "case.lesion.link", case.patient_id, case_id=case.id, lesion_id=lesion.id)
    cases = list(session.scalars(visible_cases(client).where(Case.lesion_id == lesion.id)))
    return LesionLinked(case_id=case.id, lesion=_lesion_out(lesion, cases))


# -- erasure ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Erasure:
    patient_id: str
    cases: int
    photos: int
    already: bool


def _store_keys(session: Session, case_ids: list[str]) -> list[str]:
    """The store objects the cases' photos and their messages' attachments name."""
    keys: set[str] = set()
    for row_type, owner in ((Photo, Photo.case_id), (MessageAttachment, None)):
        query = select(row_type.storage_key, row_type.thumbnail_key)
        if owner is not None:
            query = query.where(owner.in_(case_ids))
        else:
            query = query.join(Message, Message.id == MessageAttachment.message_id).where(
                Message.case_id.in_(case_ids)
            )
        for image, thumbnail in session.execute(query):
            keys.update((image, thumbnail))
    return sorted(keys)


def _delete_cases(session: Session, case_ids: list[str]) -> None:
    """Every row about the cases, then the cases: every table with a ``case_id`` (children first,
    in the metadata's dependency order), and the rows those own (attachments, delivery attempts)."""
    messages = select(Message.id).where(Message.case_id.in_(case_ids))
    session.execute(delete(MessageAttachment).where(MessageAttachment.message_id.in_(messages)))
    events = select(OutboxEvent.sequence).where(OutboxEvent.case_id.in_(case_ids))
    session.execute(delete(DeliveryAttempt).where(DeliveryAttempt.event_sequence.in_(events)))
    for table in reversed(Base.metadata.sorted_tables):
        if "case_id" in table.c and table.name != "audit_events":
            session.execute(delete(table).where(table.c.case_id.in_(case_ids)))
    session.execute(delete(Case).where(Case.id.in_(case_ids)))


def erase_patient(
    sessions: sessionmaker[Session], store: PhotoStore, *, client: Client, patient_id: str
) -> Erasure:
    """Erase the patient (an admin of their organization): their cases and everything about them
    (photos, answers, messages, diagnoses, prescriptions, events), their lesions, and every
    identifying column of their row; the store objects no other row names. Audit rows stay (they
    name the patient by id only). Idempotent: erasing an erased patient changes nothing."""
    with transaction(sessions) as session:
        patient = session.scalar(
            select(Patient)
            .where(Patient.organization_id == client.organization.id, Patient.id == patient_id)
            .with_for_update()
        )
        if patient is None:
            raise PatientNotFound(patient_id)
        if patient.erased_at is not None:
            _audit(session, client, "patient.erase.replay", patient.id)
            return Erasure(patient_id=patient.id, cases=0, photos=0, already=True)
        case_ids = list(session.scalars(select(Case.id).where(Case.patient_id == patient.id)))
        photos = len(list(session.scalars(select(Photo.id).where(Photo.case_id.in_(case_ids)))))
        keys = _store_keys(session, case_ids)
        # copies in label exports are outside the service: the event says which, and the patient's name
        # there, so that the people who hold them can delete them too
        exports = exports_holding(session, case_ids)
        in_exports = {"label_exports": exports, "export_patient_id": pseudonym("patient", patient.id)}
        _delete_cases(session, case_ids)
        session.execute(delete(Lesion).where(Lesion.patient_id == patient.id))
        patient.external_id = patient.display_name = patient.sex = patient.birth_year = None
        patient.erased_at = utcnow()
        exported = in_exports if exports else {}
        _audit(session, client, "patient.erase", patient.id, cases=len(case_ids), photos=photos, **exported)
        emit(
            session,
            organization_id=patient.organization_id,
            event_type=types.PATIENT_ERASED,
            case_id=None,
            payload={"patient_id": patient.id, "cases": len(case_ids), **exported},
        )
    remove_orphans(sessions, store, keys)
    return Erasure(patient_id=patient_id, cases=len(case_ids), photos=photos, already=False)

"""Sign and release: the case's drafted diagnosis, its plan for the patient and the drafted
prescriptions go to the patient together, as one consult note signed by a dermatologist licensed where
the patient is.

A note is immutable: its content (what it released, as it was) is stored with the SHA-256 of its
canonical JSON, and one ``consult.released`` event carries it to the intake system, once (for a case a
clinician referred, followed by ``referral_letter.ready`` for the referring practice). Releasing
again with nothing new held replays the note released before (no second event). A later change (a
revised diagnosis, another prescription) is drafted and released as the case's next note (``number``
2, 3...); the earlier note stays as it was.

Pure functions say what a note contains (``note_content``), its hash (``content_sha256``) and whether
the caller may sign it (``signing_refusal``); ``release`` is the one service that writes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from serving.auth import Client
from serving.cases.models import Case
from serving.cases.states import require_status
from serving.cases.status import CaseStatus
from serving.cases.visibility import load_case
from serving.consults import diagnosis as diagnosis_service
from serving.consults import drafts as drafts_service
from serving.consults import follow_ups, referral_letter
from serving.consults.common import audit
from serving.consults.models import ConsultNote, Diagnosis, FollowUp, Prescription
from serving.consults.note_schemas import NoteReleaseIn, pdf_url
from serving.errors import DomainError, NotFound
from serving.events import types
from serving.events.outbox import emit
from serving.patients.models import Patient
from serving.people.models import User
from serving.queue.service import require_lease

S = CaseStatus
FORMAT = "dermatriage.consult-note/1"
ATTESTATION = (
    "I have reviewed the diagnosis, the assessment, the plan and the prescriptions of this note, "
    "and I release them to the patient."
)
#: where the drafts of a case may be released from: in review, diagnosed, or waiting for the follow-up
#: photos just asked for (then by whoever scheduled it, or an admin); a case waiting on the patient's
#: answer or retake is released when it is back
RELEASABLE_FROM = (S.in_review, S.diagnosed, S.follow_up_scheduled)


# -- what a note contains (pure) ---------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _diagnosis(d: Diagnosis) -> dict[str, Any]:
    return {
        "id": d.id,
        "code": d.icd10_code,
        "title": d.icd10_title,
        "certainty": d.certainty,
        "free_text": d.free_text,
        "assessment": d.assessment,
        "patient_plan": d.patient_plan,
        "diagnosed_at": _iso(d.created_at),
        # a diagnosis told at once (before drafts existed) is the note's context, not news to the patient
        "previously_released": not d.draft,
    }


def _prescription(p: Prescription) -> dict[str, Any]:
    return {
        "id": p.id,
        "rxcui": p.rxcui,
        "medication": p.medication,
        "strength": p.strength,
        "form": p.form,
        "directions": p.directions,
        "quantity": float(p.quantity),
        "quantity_unit": p.quantity_unit,
        "refills": p.refills,
        "pharmacy_note": p.pharmacy_note,
        "diagnosis_id": p.diagnosis_id,
        "prescribed_at": _iso(p.created_at),
    }


def _patient(case: Case, patient: Patient | None) -> dict[str, Any]:
    answers = case.questionnaire or {}
    return {
        "id": patient.id if patient else None,
        "display_name": patient.display_name if patient else None,
        "external_id": patient.external_id if patient else None,
        "birth_year": patient.birth_year if patient else None,
        "sex": (patient.sex if patient and patient.sex else answers.get("sex")),
        "age_at_submission": answers.get("age"),
    }


def note_content(
    *,
    number: int,
    practice_name: str,
    case: Case,
    patient: Patient | None,
    current: Diagnosis,
    drafts: drafts_service.Drafts,
    follow_up: FollowUp | None,
) -> dict[str, Any]:
    """What the note releases: the case's current diagnosis (its assessment and plan), the prescriptions
    drafted since the last note, the follow-up if one is scheduled, who the practice and the patient are,
    and the ids of every draft the release turns into released rows."""
    answers = case.questionnaire or {}
    return {
        "format": FORMAT,
        "number": number,
        "practice": {"organization_id": case.organization_id, "name": practice_name},
        "patient": _patient(case, patient),
        "case": {
            "id": case.id,
            "jurisdiction": case.jurisdiction,
            "submitted_at": _iso(case.created_at),
            "body_site": answers.get("body_site"),
        },
        "diagnosis": _diagnosis(current),
        "prescriptions": [_prescription(p) for p in drafts.prescriptions],
        "follow_up": (
            {"id": follow_up.id, "due_at": _iso(follow_up.due_at), "instructions": follow_up.instructions}
            if follow_up is not None
            else None
        ),
        "released": {
            "diagnosis_ids": [d.id for d in drafts.diagnoses],
            "prescription_ids": [p.id for p in drafts.prescriptions],
        },
    }


def canonical_json(content: dict[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def content_sha256(content: dict[str, Any]) -> str:
    """The hash the signature covers: SHA-256 of the content's canonical JSON (sorted keys, no spaces,
    UTF-8), so that anyone holding the content can check it."""
    return hashlib.sha256(canonical_json(content)).hexdigest()


def signing_licence(case_jurisdiction: str, licences: frozenset[str]) -> str | None:
    """The licence (jurisdiction) the case's note is signed under, None when the signer has none there."""
    return case_jurisdiction if case_jurisdiction in licences else None


def signing_refusal(*, user_id: str | None, licence: str | None, jurisdiction: str) -> DomainError | None:
    """Why the caller may not sign the note, or None: a signature is a person's (not a bare key's), licensed
    in the patient's jurisdiction (an admin without that licence may not sign either)."""
    if user_id is None:
        return DomainError(
            403,
            "signer_required",
            "a consult note is signed by a person; this API key belongs to no user",
            fix="Release the note with the key of the dermatologist who signs it.",
        )
    if licence is None:
        return DomainError(
            403,
            "licence_required",
            f"the patient is in {jurisdiction}, where you hold no licence to sign a consult note",
            fix=f"A dermatologist licensed in {jurisdiction} signs and releases the note.",
        )
    return None


# -- reading -------------------------------------------------------------------------------------


class NoteNotFound(NotFound):
    def __init__(self, case_id: str, number: int | None):
        which = f"number {number}" if number is not None else "released"
        super().__init__(
            "consult note",
            f"{case_id} ({which})",
            fix="A case has a note once its drafts are released: POST /v1/cases/{id}/consult-note.",
        )


def of_case(session: Session, *, case: Case) -> list[ConsultNote]:
    """The case's notes, first first."""
    query = select(ConsultNote).where(ConsultNote.case_id == case.id).order_by(ConsultNote.number)
    return list(session.scalars(query))


def _note(session: Session, case: Case, number: int | None) -> ConsultNote | None:
    query = select(ConsultNote).where(ConsultNote.case_id == case.id)
    if number is None:
        return session.scalar(query.order_by(ConsultNote.number.desc()).limit(1))
    return session.scalar(query.where(ConsultNote.number == number))


def read(
    session: Session, *, client: Client, case_id: str, number: int | None = None, action: str
) -> tuple[Case, ConsultNote]:
    """The case's latest note (or note ``number``) for anyone who may see the case, audited as ``action``
    (``consult.note.read``, ``consult.note.pdf``); NotFound when there is none."""
    case = load_case(session, client=client, case_id=case_id)
    note = _note(session, case, number)
    if note is None:
        raise NoteNotFound(case.id, number)
    audit(
        session,
        client=client,
        action=action,
        resource_type="case",
        resource_id=case.id,
        detail={"note_id": note.id, "number": note.number},
    )
    return case, note


@dataclass(frozen=True)
class Draft:
    """What a release would sign now (``content`` None when nothing is held)."""

    case: Case
    drafts: drafts_service.Drafts
    number: int
    content: dict[str, Any] | None

    @property
    def sha256(self) -> str | None:
        return content_sha256(self.content) if self.content is not None else None


def _next_number(session: Session, case: Case) -> int:
    last = session.scalar(select(func.max(ConsultNote.number)).where(ConsultNote.case_id == case.id))
    return (last or 0) + 1


def draft_of(session: Session, *, case: Case, practice_name: str) -> Draft:
    """The note a release would sign now, from what the case holds (not audited: the caller's read is)."""
    held = drafts_service.pending(session, case=case)
    number = _next_number(session, case)
    current = diagnosis_service.latest(session, case=case)
    if not held or current is None:
        return Draft(case=case, drafts=held, number=number, content=None)
    scheduled = [f for f in follow_ups.of_case(session, case=case) if f.status == "scheduled"]
    patient = session.get(Patient, case.patient_id) if case.patient_id else None
    content = note_content(
        number=number,
        practice_name=practice_name,
        case=case,
        patient=patient,
        current=current,
        drafts=held,
        follow_up=scheduled[-1] if scheduled else None,
    )
    return Draft(case=case, drafts=held, number=number, content=content)


def read_draft(session: Session, *, client: Client, case_id: str) -> Draft:
    """What a release would sign now, for a reviewer who may see the case; audited."""
    case = load_case(session, client=client, case_id=case_id)
    draft = draft_of(session, case=case, practice_name=client.organization.name)
    audit(
        session,
        client=client,
        action="consult.note.draft.read",
        resource_type="case",
        resource_id=case.id,
        detail={"content_sha256": draft.sha256},
    )
    return draft


# -- releasing -----------------------------------------------------------------------------------


def _changed(expected: str, found: str | None) -> DomainError:
    return DomainError(
        409,
        "consult_note_changed",
        f"what the case holds changed since you reviewed it (content {found or 'none'}, "
        f"you reviewed {expected})",
        fix="Review the note again (GET /v1/cases/{id}/consult-note/draft) and release what it shows.",
        field="content_sha256",
    )


def _replay(session: Session, client: Client, case: Case, data: NoteReleaseIn) -> ConsultNote:
    """Nothing is held: the note released before, again (no event); a 409 when there is none."""
    note = _note(session, case, None)
    if note is None:
        raise DomainError(
            409,
            "nothing_to_release",
            "the case holds no drafted diagnosis or prescription to release",
            fix="Draft them first: POST /v1/cases/{id}/diagnosis and /prescriptions with 'draft': true.",
        )
    if data.content_sha256 is not None and data.content_sha256 != note.content_sha256:
        raise _changed(data.content_sha256, note.content_sha256)
    audit(
        session,
        client=client,
        action="consult.note.release.replay",
        resource_type="case",
        resource_id=case.id,
        detail={"note_id": note.id, "number": note.number},
    )
    return note


def release(
    session: Session, *, client: Client, case_id: str, data: NoteReleaseIn, now: datetime
) -> tuple[Case, ConsultNote, bool]:
    """Sign the case's drafts as one note and release it: the drafts become released rows of the note, and
    one ``consult.released`` event carries the note. Returns (case, note, replayed).

    The case is locked first, so a concurrent release waits and then finds nothing held: it replays the
    note (``replayed`` true, no event). Releasing needs the case's lease (admins need none; a case waiting
    for its follow-up: its scheduler), a case in RELEASABLE_FROM, and a signer licensed in the patient's
    jurisdiction."""
    case = load_case(session, client=client, case_id=case_id, for_update=True)
    draft = draft_of(session, case=case, practice_name=client.organization.name)
    if draft.content is None:
        return case, _replay(session, client, case, data), True
    require_status(case, *RELEASABLE_FROM, action="have its consult note released")
    if not follow_ups.require_scheduler(
        session, case=case, client=client, action="sign and release the note of"
    ):
        require_lease(session, case=case, client=client, now=now)
    licence = signing_licence(case.jurisdiction, client.jurisdictions)
    refusal = signing_refusal(user_id=client.user_id, licence=licence, jurisdiction=case.jurisdiction)
    if refusal is not None:
        raise refusal
    if data.content_sha256 is not None and data.content_sha256 != draft.sha256:
        raise _changed(data.content_sha256, draft.sha256)
    signer = session.get(User, client.user_id)
    note = ConsultNote(
        organization_id=case.organization_id,
        case_id=case.id,
        number=draft.number,
        content=draft.content,
        content_sha256=draft.sha256,
        signed_at=now,
        signed_by_user_id=client.user_id,
        signed_by_key_id=client.key_id,
        signed_by_name=signer.name,
        licence_jurisdiction=licence,
        attestation=data.attestation or ATTESTATION,
    )
    session.add(note)
    session.flush()
    for row in [*draft.drafts.diagnoses, *draft.drafts.prescriptions]:
        row.draft = False
        row.consult_note_id = note.id
    payload = released_payload(note)
    if referral_letter.is_referred(case):
        payload["referral_letter_url"] = referral_letter.letter_url(note)
    emit(
        session,
        organization_id=case.organization_id,
        event_type=types.CONSULT_RELEASED,
        case_id=case.id,
        payload=payload,
    )
    if referral_letter.is_referred(case):
        emit(
            session,
            organization_id=case.organization_id,
            event_type=types.REFERRAL_LETTER_READY,
            case_id=case.id,
            payload=referral_letter.ready_payload(case, note),
        )
    audit(
        session,
        client=client,
        action="consult.note.release",
        resource_type="case",
        resource_id=case.id,
        detail={
            "note_id": note.id,
            "number": note.number,
            "content_sha256": note.content_sha256,
            **draft.content["released"],
        },
    )
    return case, note, False


def released_payload(note: ConsultNote) -> dict[str, Any]:
    """The ``consult.released`` event: the note's content, its hash and signature, where its PDF is."""
    return {
        "note_id": note.id,
        "number": note.number,
        "content": note.content,
        "content_sha256": note.content_sha256,
        "signature": {
            "user_id": note.signed_by_user_id,
            "name": note.signed_by_name,
            "licence_jurisdiction": note.licence_jurisdiction,
            "signed_at": _iso(note.signed_at),
            "attestation": note.attestation,
        },
        "pdf_url": pdf_url(note),
    }

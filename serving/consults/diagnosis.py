"""A coded diagnosis for a case: from the curated ICD-10-CM list, with the assessment and the plan
in words for the patient. Every diagnosis is a new row, so the history stays (first impression,
then confirmed or revised at follow-up)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from serving.auth import Client
from serving.cases.models import Case
from serving.cases.status import CaseStatus
from serving.consults import diagnoses, drafts
from serving.consults.common import acting_on, add_to_case, authored, move, record_action, rows_of
from serving.consults.models import Diagnosis
from serving.consults.schemas import DiagnosisIn
from serving.errors import DomainError
from serving.events import types

S = CaseStatus


def catalogue_entry(code: str, *, field: str = "code", details: str = "free_text") -> diagnoses.DiagnosisCode:
    """The catalogue's entry that ``code`` names (a code, or a name or synonym naming exactly one entry:
    ``diagnoses.resolve``), else a 422 on ``field`` listing the closest entries (``details``: where the
    words go that no code says)."""
    found = diagnoses.resolve(code)
    if found.entry is None:
        raise unresolved(found, field=field, details=details)
    return found.entry


def unresolved(found: diagnoses.Resolution, *, field: str, details: str = "free_text") -> DomainError:
    """The refusal of a text that names no single catalogue entry, with the closest entries."""
    typed = found.text.split("\u2014")[0].strip()
    closest = found.describe()
    if found.ambiguous:
        message = f"{typed!r} matches {len(found.candidates)} catalogue entries: {closest}"
    else:
        message = f"{typed!r} is not in the diagnosis catalogue" + (
            f"; closest: {closest}" if closest else ""
        )
    return DomainError(
        422,
        "unknown_diagnosis_code",
        message,
        fix="Use a code from GET /v1/catalogue/diagnoses?q=<words or code>, "
        f"e.g. ?q=acne or ?q=L70; add details in '{details}'.",
        field=field,
    )


def diagnose(session: Session, *, client: Client, case_id: str, data: DiagnosisIn, now: datetime):
    """Record a diagnosis; a case in review becomes ``diagnosed``. Returns (case, diagnosis).

    ``data.draft``: held (no event) until a consult note releases it (serving.consults.notes); else told
    at once, which a case holding drafts refuses (DraftsPending)."""
    case = acting_on(session, client, case_id, now, allowed=(S.in_review, S.diagnosed), action="be diagnosed")
    entry = catalogue_entry(data.code)
    if not data.draft:
        drafts.require_none_pending(session, case=case, action="be diagnosed at once")
    diagnosis = add_to_case(
        session,
        Diagnosis,
        case,
        icd10_code=entry.code,
        icd10_title=entry.title,
        **data.model_dump(exclude={"code"}),
        **authored(client, now),
    )
    move(session, case, S.diagnosed, client=client, reason=f"diagnosis {entry.code} ({data.certainty})")
    record_action(
        session,
        client=client,
        case=case,
        action="consult.diagnosis.create",
        detail={
            "diagnosis_id": diagnosis.id,
            "code": entry.code,
            "certainty": data.certainty,
            "draft": data.draft,
        },
        event=None  # a draft is told to the patient by the consult note that releases it
        if data.draft
        else (
            types.CASE_DIAGNOSED,
            {
                "diagnosis_id": diagnosis.id,
                "code": entry.code,
                "title": entry.title,
                "certainty": data.certainty,
                "patient_plan": data.patient_plan,
            },
        ),
    )
    return case, diagnosis


#: a case's diagnoses, oldest first
HISTORY_ORDER = (Diagnosis.created_at, Diagnosis.id)


def history(session: Session, *, case: Case) -> list[Diagnosis]:
    return rows_of(session, Diagnosis, case, *HISTORY_ORDER)


def latest(session: Session, *, case: Case) -> Diagnosis | None:
    found = history(session, case=case)
    return found[-1] if found else None

"""A coded diagnosis for a case: from the curated ICD-10-CM list, with the assessment and the plan
in words for the patient. Every diagnosis is a new row, so the history stays (first impression,
then confirmed or revised at follow-up)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from serving.auth import Client
from serving.cases.models import Case
from serving.cases.status import CaseStatus
from serving.consults import diagnoses
from serving.consults.common import acting_on, add_to_case, authored, move, record_action, rows_of
from serving.consults.models import Diagnosis
from serving.consults.schemas import DiagnosisIn
from serving.errors import DomainError
from serving.events import types

S = CaseStatus


def catalogue_entry(code: str, *, field: str = "code", details: str = "free_text") -> diagnoses.DiagnosisCode:
    """The catalogue's entry for ``code``, else a 422 on ``field`` (``details``: where the words go that
    no code says)."""
    entry = diagnoses.lookup(code)
    if entry is None:
        raise DomainError(
            422,
            "unknown_diagnosis_code",
            f"{code!r} is not in the diagnosis catalogue",
            fix="Use a code from GET /v1/catalogue/diagnoses?q=<words or code>, "
            f"e.g. ?q=acne or ?q=L70; add details in '{details}'.",
            field=field,
        )
    return entry


def diagnose(session: Session, *, client: Client, case_id: str, data: DiagnosisIn, now: datetime):
    """Record a diagnosis; a case in review becomes ``diagnosed``. Returns (case, diagnosis)."""
    case = acting_on(session, client, case_id, now, allowed=(S.in_review, S.diagnosed), action="be diagnosed")
    entry = catalogue_entry(data.code)
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
        detail={"diagnosis_id": diagnosis.id, "code": entry.code, "certainty": data.certainty},
        event=(
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

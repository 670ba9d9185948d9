"""Drafts: diagnoses and prescriptions written with ``draft: true`` are held (no event, hidden from the
intake system) until a signed consult note releases them (serving.consults.notes). While a case has
drafts, nothing else may reach the patient ahead of them: a diagnosis or prescription written at once,
a referral or a closure is refused until the note is released."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.cases.models import Case
from serving.consults.models import Diagnosis, Prescription
from serving.errors import DomainError


@dataclass(frozen=True)
class Drafts:
    """A case's held rows, oldest first."""

    diagnoses: list[Diagnosis]
    prescriptions: list[Prescription]

    def __bool__(self) -> bool:
        return bool(self.diagnoses or self.prescriptions)


def pending(session: Session, *, case: Case) -> Drafts:
    def held(model):
        query = select(model).where(model.case_id == case.id, model.draft.is_(True))
        return list(session.scalars(query.order_by(model.created_at, model.id)))

    return Drafts(diagnoses=held(Diagnosis), prescriptions=held(Prescription))


class DraftsPending(DomainError):
    def __init__(self, drafts: Drafts, *, action: str):
        held = (
            f"{len(drafts.diagnoses)} drafted diagnosis(es) and {len(drafts.prescriptions)} prescription(s)"
        )
        super().__init__(
            409,
            "consult_note_pending",
            f"the case has {held} the patient has not been told of; it cannot {action} before them",
            fix="Sign and release them first: POST /v1/cases/{id}/consult-note "
            "(or write this as a draft too: 'draft': true).",
            field="draft",
        )


def require_none_pending(session: Session, *, case: Case, action: str) -> None:
    """DraftsPending (409) when the case holds drafts."""
    drafts = pending(session, case=case)
    if drafts:
        raise DraftsPending(drafts, action=action)

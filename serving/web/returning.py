"""Why a case on the queue page is back from the patient: a retake came, the follow-up photos came, or
the patient answered the dermatologist. Read from the case's own record (its photo batches, the
follow-ups a batch answered, the thread), for every listed case at once: two queries whatever the
number of rows, never one per row.

- *Retake received*: the case's latest photo batch is a later one (batch > 1) that answered no
  follow-up: the patient sent photos again because the first ones could not be read or a
  dermatologist asked for better ones.
- *Follow-up photos received*: the latest batch answered a scheduled follow-up
  (``FollowUp.received_batch``).
- *Patient replied*: the newest message of the thread is the patient's, written after the
  dermatologist's (or admin's) latest one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from serving.cases.models import Case
from serving.consults.models import FollowUp, Message

PATIENT = "patient"


class Return(StrEnum):
    retake = "Retake received"
    follow_up = "Follow-up photos received"
    reply = "Patient replied"


@dataclass(frozen=True)
class Thread:
    """The latest message of each side of a case's thread (None: that side never wrote)."""

    patient: datetime | None = None
    clinic: datetime | None = None


def returns(*, latest_batch: int, follow_up_batches: Iterable[int], thread: Thread) -> tuple[Return, ...]:
    """What the patient sent back, most recent kinds first (the rule above, for one case)."""
    found: list[Return] = []
    if latest_batch > 1:
        found.append(Return.follow_up if latest_batch in set(follow_up_batches) else Return.retake)
    if thread.patient is not None and thread.clinic is not None and thread.patient > thread.clinic:
        found.append(Return.reply)
    return tuple(found)


def returns_of(session: Session, cases: Sequence[Case]) -> dict[str, tuple[Return, ...]]:
    """``returns`` for each case (by id); the cases' photos are loaded with them (``Case.photos``)."""
    ids = sorted({c.id for c in cases})
    if not ids:
        return {}
    answered: dict[str, set[int]] = {}
    for case_id, batch in session.execute(
        select(FollowUp.case_id, FollowUp.received_batch).where(
            FollowUp.case_id.in_(ids), FollowUp.received_batch.is_not(None)
        )
    ):
        answered.setdefault(case_id, set()).add(batch)
    latest: dict[str, dict[str, datetime]] = {}
    is_patient = (Message.sender == PATIENT).label("is_patient")
    for case_id, patient, at in session.execute(
        select(Message.case_id, is_patient, func.max(Message.created_at))
        .where(Message.case_id.in_(ids))
        .group_by(Message.case_id, is_patient)
    ):
        latest.setdefault(case_id, {})["patient" if patient else "clinic"] = at
    out = {}
    for case in cases:
        sides = latest.get(case.id, {})
        out[case.id] = returns(
            latest_batch=max((p.batch for p in case.photos), default=0),
            follow_up_batches=answered.get(case.id, ()),
            thread=Thread(patient=sides.get("patient"), clinic=sides.get("clinic")),
        )
    return out

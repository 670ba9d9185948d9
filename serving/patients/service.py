"""Find-or-create a patient (by external id) and a lesion (by label), race-safe: the unique
constraints make two concurrent first submissions collide, and the loser reads the winner's row."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from serving.patients.models import Lesion, Patient
from serving.patients.schemas import PatientIn

T = TypeVar("T")


def label_key(label: str) -> str:
    """A lesion label as compared: case and runs of spaces do not make another lesion."""
    return re.sub(r"\s+", " ", label).strip().casefold()[:120]


def _find_or_insert(session: Session, find: Callable[[], T | None], make: Callable[[], T]) -> T:
    found = find()
    if found is not None:
        return found
    try:
        with session.begin_nested():  # a savepoint: a collision undoes only this insert
            row = make()
            session.add(row)
            session.flush()
        return row
    except IntegrityError:
        found = find()  # the concurrent winner's row, committed by now
        if found is None:
            raise
        return found


def find_or_create_patient(session: Session, *, organization_id: str, patient: PatientIn) -> Patient:
    return _find_or_insert(
        session,
        lambda: session.scalar(
            select(Patient).where(
                Patient.organization_id == organization_id, Patient.external_id == patient.external_id
            )
        ),
        lambda: Patient(
            organization_id=organization_id,
            external_id=patient.external_id,
            birth_year=patient.birth_year,
            sex=None if patient.sex is None else patient.sex.value,
            display_name=patient.display_name,
        ),
    )


def find_or_create_lesion(session: Session, *, patient: Patient, label: str, body_site: str | None) -> Lesion:
    key = label_key(label)
    return _find_or_insert(
        session,
        lambda: session.scalar(
            select(Lesion).where(Lesion.patient_id == patient.id, Lesion.label_key == key)
        ),
        lambda: Lesion(
            organization_id=patient.organization_id,
            patient_id=patient.id,
            label=label.strip()[:120],
            label_key=key,
            body_site=body_site,
        ),
    )

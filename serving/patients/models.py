from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from serving.db import Base, UtcDateTime, new_id, utcnow


class Patient(Base):
    """A patient of an organization, known by the intake system's own id (``external_id``, unique per
    organization). An erased patient keeps only this row, every identifying column NULL."""

    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("organization_id", "external_id", name="uq_patients_org_external_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    external_id: Mapped[str | None] = mapped_column(String(128))
    birth_year: Mapped[int | None] = mapped_column(Integer, default=None)
    sex: Mapped[str | None] = mapped_column(String(16), default=None)
    display_name: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class Lesion(Base):
    """One skin lesion of a patient, named by a label ("mole left shoulder"); the photos of the cases
    linked to it (``Case.lesion_id``) form its timeline."""

    __tablename__ = "lesions"
    __table_args__ = (UniqueConstraint("patient_id", "label_key", name="uq_lesions_patient_label_key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"))
    label: Mapped[str] = mapped_column(String(120))
    #: the label normalized (``label_key``): one lesion per (patient, label_key)
    label_key: Mapped[str] = mapped_column(String(120))
    body_site: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

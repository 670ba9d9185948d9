"""The case page's patient panel and lesion timeline, from the patient's history as
``GET /v1/patients/{id}`` reads it (``serving.histories``: audited ``patient.read``; a dermatologist
gets only the cases, and so the photos, in their licences).

The panel names the patient (display name, else the intake system's id), their age from the birth
year, their sex, and their other cases at a glance (date, status, tier, settled diagnoses), each
linked to its page. The timeline is the photos of the case's lesion over time, oldest first, the
case's own photos marked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from serving.auth import Client
from serving.cases.models import Case
from serving.histories.schemas import LesionOut, PatientCaseOut, PatientOut
from serving.histories.service import PatientNotFound, read_patient
from serving.schemas import image_urls

#: the diagnoses shown at a glance ("provisional" is a first impression, shown only when alone)
SETTLED = ("confirmed", "revised")


@dataclass(frozen=True)
class CaseLine:
    id: str
    created_at: datetime
    status: str
    tier: str
    #: "L40.0 Psoriasis vulgaris" for each settled diagnosis, oldest first
    diagnoses: list[str]
    #: the last provisional diagnosis when none is settled
    provisional: str | None


@dataclass(frozen=True)
class TimelinePhoto:
    id: str
    case_id: str
    created_at: datetime
    image_url: str
    thumbnail_url: str
    #: a photo of the case on the page
    current: bool


@dataclass(frozen=True)
class LesionTimeline:
    label: str
    body_site: str | None
    photos: list[TimelinePhoto]

    @property
    def earlier(self) -> int:
        """How many photos come from other cases."""
        return sum(1 for p in self.photos if not p.current)


@dataclass(frozen=True)
class PatientPanel:
    id: str
    name: str
    birth_year: int | None
    age: int | None
    sex: str | None
    #: the patient's other cases the caller may see, created before this one (newest first)
    prior: list[CaseLine]
    #: and those created after it (newest first)
    later: list[CaseLine]
    timeline: LesionTimeline | None


def _diagnosis(d) -> str:
    return f"{d.code} {d.title}"


def case_line(row: PatientCaseOut) -> CaseLine:
    settled = [_diagnosis(d) for d in row.diagnoses if d.certainty in SETTLED]
    provisional = None if settled or not row.diagnoses else _diagnosis(row.diagnoses[-1])
    return CaseLine(row.id, row.created_at, row.status, row.tier, settled, provisional)


def timeline(lesion: LesionOut, case_id: str) -> LesionTimeline:
    """The lesion's photos (already oldest first), served by the pages' photo routes."""
    photos = [
        TimelinePhoto(
            id=p.id,
            case_id=p.case_id,
            created_at=p.created_at,
            **image_urls(f"/cases/{p.case_id}/photos/{p.id}"),
            current=p.case_id == case_id,
        )
        for p in lesion.photos
    ]
    return LesionTimeline(lesion.label, lesion.body_site, photos)


def panel(history: PatientOut, case: Case, now: datetime) -> PatientPanel:
    """The panel for ``case``, from its patient's history as the caller may see it."""
    others = sorted(
        (c for c in history.cases if c.id != case.id), key=lambda c: (c.created_at, c.id), reverse=True
    )
    lesion = next((lesion for lesion in history.lesions if lesion.id == case.lesion_id), None)
    return PatientPanel(
        id=history.id,
        name=history.display_name or history.external_id,
        birth_year=history.birth_year,
        age=None if history.birth_year is None else now.year - history.birth_year,
        sex=history.sex,
        prior=[case_line(c) for c in others if c.created_at <= case.created_at],
        later=[case_line(c) for c in others if c.created_at > case.created_at],
        timeline=None if lesion is None else timeline(lesion, case.id),
    )


def patient_panel(session: Session, *, client: Client, case: Case, now: datetime) -> PatientPanel | None:
    """The patient panel of a case the caller may see, or None for a case without a patient."""
    if case.patient_id is None:
        return None
    try:
        history = read_patient(session, client=client, patient_id=case.patient_id)
    except PatientNotFound:  # erased while the page was read: the case goes with them
        return None
    return panel(history, case, now)

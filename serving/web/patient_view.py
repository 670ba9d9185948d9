"""The case page's patient panel and lesion timeline, from the patient's history as
``GET /v1/patients/{id}`` reads it (``serving.histories``: audited ``patient.read``; a dermatologist
gets only the cases, and so the photos, in their licences).

The panel names the patient (display name, else the intake system's id), their age from the birth
year, their sex, and their other cases at a glance (date, status, tier, settled diagnoses, pathology
results and the outcome label, from ``serving.consults.pathology``), each linked to its page. The
timeline is the photos of the case's lesion over time, oldest first, the case's own photos marked, and
each other case's outcome under its photos.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.orm import Session

from model.outcome import Category, OutcomeLabel, Source
from serving.auth import Client
from serving.cases.models import Case
from serving.cases.visibility import load_case
from serving.consults import diagnoses, pathology
from serving.histories.schemas import LesionOut, PatientCaseOut, PatientOut
from serving.histories.service import PatientNotFound, read_patient
from serving.schemas import image_urls

#: the diagnoses shown at a glance ("provisional" is a first impression, shown only when alone)
SETTLED = ("confirmed", "revised")

#: the urgency model's classes, as a dermatologist reads them
CLASS_NAMES = {
    "ACK": "actinic keratosis",
    "BCC": "basal cell carcinoma",
    "MEL": "melanoma",
    "NEV": "nevus",
    "SCC": "squamous cell carcinoma",
    "SEK": "seborrheic keratosis",
}
CATEGORY_TEXT = {
    Category.malignant: "malignant",
    Category.not_malignant: "not malignant",
    Category.outside: "outside the model's classes",
}
#: what a code outside the classes is known to be (``OutcomeLabel.malignant``)
OUTSIDE_BEHAVIOUR = {True: "malignant", False: "benign", None: "behaviour uncertain"}
SOURCE_TEXT = {Source.pathology: "pathology", Source.diagnosis: "dermatologist's diagnosis"}


@dataclass(frozen=True)
class OutcomeView:
    """A case's outcome label (``model.outcome.OutcomeLabel``) in a dermatologist's words."""

    label: OutcomeLabel
    #: the catalogue's title of the code ("Basal cell carcinoma of skin, unspecified")
    title: str

    @property
    def source(self) -> str:
        return SOURCE_TEXT[self.label.source]

    @property
    def model_class(self) -> str:
        """'BCC (basal cell carcinoma)', or 'none' outside the classes."""
        cls = self.label.model_class
        return "none" if cls is None else f"{cls} ({CLASS_NAMES.get(cls, cls)})"

    @property
    def category(self) -> str:
        """'malignant', 'not malignant', or 'outside the model's classes (benign)'."""
        text = CATEGORY_TEXT[self.label.category]
        if self.label.category is Category.outside:
            return f"{text} ({OUTSIDE_BEHAVIOUR[self.label.malignant]})"
        return text

    @property
    def css(self) -> str:
        """'malignant' | 'not_malignant' | 'outside' (the badge's class)."""
        return self.label.category.value


def outcome_view(label: OutcomeLabel | None) -> OutcomeView | None:
    """The label as shown; its title from the diagnosis catalogue (which every label's code is from)."""
    if label is None:
        return None
    entry = diagnoses.lookup(label.code)
    return OutcomeView(label, entry.title if entry else "")


@dataclass(frozen=True)
class PathologyLine:
    code: str
    title: str
    reported_on: date


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
    #: its histopathology results (oldest report first) and its outcome label
    pathology: list[PathologyLine] = field(default_factory=list)
    outcome: OutcomeView | None = None


@dataclass(frozen=True)
class TimelinePhoto:
    id: str
    case_id: str
    created_at: datetime
    image_url: str
    thumbnail_url: str
    #: a photo of the case on the page
    current: bool
    #: the outcome of the photo's case when it is another case ("Pathology: C44.91, malignant")
    outcome: str | None = None


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


def case_line(row: PatientCaseOut, findings=((), None)) -> CaseLine:
    """``findings``: the case's pathology results and outcome label (``pathology.findings``)."""
    settled = [_diagnosis(d) for d in row.diagnoses if d.certainty in SETTLED]
    provisional = None if settled or not row.diagnoses else _diagnosis(row.diagnoses[-1])
    results, label = findings
    lines = [PathologyLine(r.icd10_code, r.icd10_title, r.reported_on) for r in results]
    return CaseLine(
        row.id, row.created_at, row.status, row.tier, settled, provisional, lines, outcome_view(label)
    )


def short_outcome(line: CaseLine | None) -> str | None:
    """Under a timeline photo: 'Pathology: C44.91, malignant', 'Diagnosis: D22.9, not malignant'."""
    if line is None or line.outcome is None:
        return None
    label = line.outcome.label
    source = "Pathology" if label.source is Source.pathology else "Diagnosis"
    category = "outside the classes" if label.category is Category.outside else line.outcome.category
    return f"{source}: {label.code}, {category}"


def timeline(lesion: LesionOut, case_id: str, lines: dict[str, CaseLine] | None = None) -> LesionTimeline:
    """The lesion's photos (already oldest first), served by the pages' photo routes; ``lines``: the
    other cases by id, for their outcome under their photos."""
    lines = lines or {}
    photos = [
        TimelinePhoto(
            id=p.id,
            case_id=p.case_id,
            created_at=p.created_at,
            **image_urls(f"/cases/{p.case_id}/photos/{p.id}"),
            current=p.case_id == case_id,
            outcome=None if p.case_id == case_id else short_outcome(lines.get(p.case_id)),
        )
        for p in lesion.photos
    ]
    return LesionTimeline(lesion.label, lesion.body_site, photos)


def panel(history: PatientOut, case: Case, now: datetime, findings: dict | None = None) -> PatientPanel:
    """The panel for ``case``, from its patient's history as the caller may see it; ``findings``: the
    other cases' (pathology results, outcome label) by case id."""
    findings = findings or {}
    others = sorted(
        (c for c in history.cases if c.id != case.id), key=lambda c: (c.created_at, c.id), reverse=True
    )
    lines = {c.id: case_line(c, findings.get(c.id, ((), None))) for c in others}
    lesion = next((lesion for lesion in history.lesions if lesion.id == case.lesion_id), None)
    return PatientPanel(
        id=history.id,
        name=history.display_name or history.external_id,
        birth_year=history.birth_year,
        age=None if history.birth_year is None else now.year - history.birth_year,
        sex=history.sex,
        prior=[lines[c.id] for c in others if c.created_at <= case.created_at],
        later=[lines[c.id] for c in others if c.created_at > case.created_at],
        timeline=None if lesion is None else timeline(lesion, case.id, lines),
    )


def findings_of(session: Session, *, client: Client, history: PatientOut, case: Case) -> dict:
    """The other cases' pathology results and outcome labels, by case id (the cases of the history,
    which the caller may see: loaded through the same visibility)."""
    out = {}
    for row in history.cases:
        if row.id != case.id:
            other = load_case(session, client=client, case_id=row.id)
            out[row.id] = pathology.findings(session, case=other)
    return out


def patient_panel(session: Session, *, client: Client, case: Case, now: datetime) -> PatientPanel | None:
    """The patient panel of a case the caller may see, or None for a case without a patient."""
    if case.patient_id is None:
        return None
    try:
        history = read_patient(session, client=client, patient_id=case.patient_id)
    except PatientNotFound:  # erased while the page was read: the case goes with them
        return None
    return panel(history, case, now, findings_of(session, client=client, history=history, case=case))

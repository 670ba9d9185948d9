"""What the case page shows, read in one transaction and audited like the API's reads: the case
(``case.read``), the consult record with the pathology results and the outcome label (``consult.read``),
the thread (``consult.messages.read``) and, for a case with a patient, the patient's history
(``patient.read``, ``serving.web.patient_view``).

Photos are grouped by batch (the first submission, retakes, follow-ups) so that earlier and later
photos stand side by side; each photo keeps its quality verdict and the reasons a patient was given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from model.outcome import OutcomeLabel
from model.quality_checks import Verdict
from serving.audit import record
from serving.auth import REVIEWERS, Client
from serving.cases.leases import LEASED_STATUSES, held_by, lease_active
from serving.cases.models import Case, Photo
from serving.cases.schemas import urgency_reading
from serving.cases.states import IllegalMove
from serving.cases.status import CaseStatus
from serving.cases.visibility import load_case
from serving.consults import (
    diagnosis,
    disposition,
    follow_ups,
    messages,
    notes,
    pathology,
    prescriptions,
    renewals,
    video_visits,
)
from serving.orgs.service import Role
from serving.people.models import User
from serving.schemas import image_urls
from serving.web.patient_view import CLASS_NAMES, OutcomeView, PatientPanel, outcome_view, patient_panel
from serving.web.rendering import duration

S = CaseStatus
QUESTIONNAIRE_LABELS = {
    "age": "Age",
    "sex": "Sex",
    "body_site": "Body site",
    "duration_days": "Duration (days)",
    "size_mm": "Size (mm)",
    "itch": "Itch",
    "pain": "Pain",
    "bleeding": "Bleeding",
    "grew": "Grew",
    "changed": "Changed",
    "elevated": "Raised",
    "fever": "Fever",
    "spreading_rapidly": "Spreading rapidly",
    "blistering_or_peeling": "Blistering or peeling",
    "mucosal_involvement": "Mouth, eyes or genitals involved",
    "immunosuppressed": "Immunosuppressed",
    "pregnant": "Pregnant",
    "skin_cancer_history": "Skin cancer before",
    "fitzpatrick": "Fitzpatrick skin type",
    "medications": "Medications",
    "concern": "Concern in their words",
    "jurisdiction": "Jurisdiction",
    "lesion_label": "Lesion, as named at intake",
    "consent_research": "Consents to research use",
    "language": "Language",
    "capture_device": "Capture device",
}


@dataclass(frozen=True)
class PhotoView:
    id: str
    batch: int
    position: int
    created_at: datetime
    width: int
    height: int
    verdict: Verdict
    score: float
    defects: list[str]
    instructions: list[str]
    image_url: str
    thumbnail_url: str
    #: the urgency model's reading, for the dermatologist (None when it did not read the photo): in
    #: full for the captions, and its malignancy alone under the narrow thumbnail
    reading: str | None = None
    malignancy: str | None = None
    readable: bool = True
    modality: str | None = None

    @property
    def status_label(self) -> str:
        """What the quality gate said, as a dermatologist reads it."""
        if not self.readable:
            return "unreadable"
        kind = "dermoscopic, " if self.modality == "dermoscopic" else ""
        return f"{kind}usable" if self.verdict is Verdict.accept else f"{kind}readable, better photo asked"


def model_malignancy(photo: Photo) -> str | None:
    """'Model: 34% malignant' (the line under a thumbnail)."""
    reading = urgency_reading(photo)
    return None if reading is None else _malignant(reading.malignancy)


def model_reading(photo: Photo) -> str | None:
    """'Model: 34% malignant; basal cell carcinoma 30%, nevus 25%, ...' (the three likeliest)."""
    reading = urgency_reading(photo)
    if reading is None:
        return None
    likeliest = sorted(reading.diagnosis.items(), key=lambda item: -item[1])[:3]
    classes = ", ".join(f"{CLASS_NAMES.get(label, label)} {p:.0%}" for label, p in likeliest)
    domain = (
        " (dermoscopic: outside the model's validated domain)" if reading.outside_validated_domain else ""
    )
    return f"{_malignant(reading.malignancy)}; {classes}{domain}"


def _malignant(probability: float) -> str:
    return f"Model: {probability:.0%} malignant"


#: the questionnaire's answers that are red flags when "yes" (the glance header lists them)
RED_FLAGS = (
    "bleeding",
    "grew",
    "changed",
    "fever",
    "spreading_rapidly",
    "blistering_or_peeling",
    "mucosal_involvement",
    "immunosuppressed",
    "skin_cancer_history",
)


@dataclass(frozen=True)
class Glance:
    """The case at a glance (the header of the case page): who, where, how long, how large, the
    patient's concern, the red flags answered yes, the triage reasons and any earlier diagnosis."""

    facts: list[tuple[str, str]]
    concern: str | None
    red_flags: list[str]
    reasons: list[str]
    previous: list[str]


def glance(case: Case, patient: PatientPanel | None) -> Glance:
    q = case.questionnaire or {}
    facts = []
    if q.get("age") is not None:
        facts.append(("Age", f"{q['age']}"))
    if q.get("sex"):
        facts.append(("Sex", _answer(q["sex"])))
    if q.get("body_site"):
        facts.append(("Body site", _answer(q["body_site"])))
    if q.get("duration_days") is not None:
        facts.append(("Duration", _days(q["duration_days"])))
    if q.get("size_mm") is not None:
        facts.append(
            ("Size", f"{q['size_mm']:g} mm" if isinstance(q["size_mm"], int | float) else str(q["size_mm"]))
        )
    previous = []
    for line in patient.prior if patient else ():
        path = line.pathology[-1] if line.pathology else None
        said = (
            f"pathology {path.code} {path.title}" if path else "; ".join(line.diagnoses) or line.provisional
        )
        if said:
            previous.append(f"{said} ({line.created_at:%d %b %Y})")
    return Glance(
        facts=facts,
        concern=(q.get("concern") or None) and str(q["concern"]),
        red_flags=[QUESTIONNAIRE_LABELS[k] for k in RED_FLAGS if q.get(k) is True],
        reasons=list(case.reasons or []),
        previous=previous,
    )


def _days(value: Any) -> str:
    """200 -> '200 days (about 7 months)'; 3 -> '3 days'."""
    if not isinstance(value, int | float):
        return str(value)
    days = f"{value:g} day{'' if value == 1 else 's'}"
    if value >= 60:
        return f"{days} (about {round(value / 30.4)} months)"
    return days


@dataclass(frozen=True)
class BatchView:
    number: int
    label: str
    taken_at: datetime
    photos: list[PhotoView]


@dataclass
class CaseView:
    case: Case
    now: datetime
    batches: list[BatchView]
    answers: list[tuple[str, str]]
    unanswered: list[str]
    diagnoses: list = field(default_factory=list)
    prescriptions: list = field(default_factory=list)
    follow_ups: list = field(default_factory=list)
    dispositions: list = field(default_factory=list)
    renewals: list = field(default_factory=list)
    thread: list = field(default_factory=list)
    holder_name: str | None = None
    held_by_me: bool = False
    lease_active: bool = False
    can: set[str] = field(default_factory=set)
    retake: dict[str, Any] = field(default_factory=dict)
    #: the histopathology results (oldest report first) and who recorded each (user id -> name)
    pathology: list = field(default_factory=list)
    recorders: dict[str, str] = field(default_factory=dict)
    #: who wrote the diagnoses, prescriptions and dispositions (user id -> name)
    authors: dict[str, str] = field(default_factory=dict)
    #: the case's outcome label (None: no pathology and no confirmed diagnosis yet), and as shown
    outcome_label: OutcomeLabel | None = None
    outcome: OutcomeView | None = None
    #: the patient and the lesion's timeline (None: a case sent without a patient)
    patient: PatientPanel | None = None
    #: sign and release: what a release would sign now, and the notes released (first first)
    note_draft: Any = None
    notes: list = field(default_factory=list)
    #: the video visits proposed (oldest first; _case_visit.html)
    video_visits: list = field(default_factory=list)

    @property
    def acts(self) -> set[str]:
        """The forms about the case itself (not the lease)."""
        return self.can - {"claim", "renew", "release"}

    @property
    def consult_acts(self) -> set[str]:
        """The forms of the consult itself (a pathology result also comes after it)."""
        return self.acts - {"pathology"}

    def author(self, row) -> str:
        """Who wrote a diagnosis, a prescription or a disposition, by name ('an API key' for a key
        without a user)."""
        user_id = getattr(row, "created_by_user_id", None) or getattr(row, "prescribed_by_user_id", None)
        if user_id is None:
            return "an API key"
        return self.authors.get(user_id, "a former user")

    @property
    def review_settled(self) -> bool:
        """Whether the case has left the online review (referred or closed): no review clock then."""
        return self.case.status in (S.referred_in_person, S.closed)

    @property
    def settled_at(self) -> datetime:
        """When the case was referred or closed (its latest disposition)."""
        return self.dispositions[-1].created_at if self.dispositions else self.case.updated_at

    @property
    def review_outcome(self) -> str:
        """How the first review went against its due time: 'first reviewed 2 h 05 min after the due
        time' / 'first reviewed within the review SLA' / 'never reviewed' (for a settled case)."""
        due = self.case.first_review_due_at or self.case.review_due_at
        reviewed = self.case.first_reviewed_at
        if reviewed is None:
            return "closed without a review"
        if due is None or reviewed <= due:
            return "first reviewed within the review SLA"
        return f"first reviewed {duration((reviewed - due).total_seconds())} after the due time"

    def recorded_by(self, result) -> str:
        """Who recorded a pathology result, by name ('an API key' for a key without a user)."""
        if result.recorded_by_user_id is None:
            return "an API key"
        return self.recorders.get(result.recorded_by_user_id, "a former user")

    @property
    def glance(self) -> Glance:
        return glance(self.case, self.patient)

    @property
    def photos(self) -> list[PhotoView]:
        return [p for b in self.batches for p in b.photos]


def _answer(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return str(value).replace("_", " ")


def answers(questionnaire: dict[str, Any]) -> tuple[list[tuple[str, str]], list[str]]:
    """The questionnaire's answers as (label, text), in the order of the labels, then anything else;
    and the labels of the questions left unanswered."""
    labelled = [(QUESTIONNAIRE_LABELS.get(k, k.replace("_", " ")), v) for k, v in questionnaire.items()]
    order = list(QUESTIONNAIRE_LABELS.values())
    labelled.sort(key=lambda item: order.index(item[0]) if item[0] in order else len(order))
    given = [(label, _answer(value)) for label, value in labelled if value not in (None, "", [])]
    missing = [label for label, value in labelled if value in (None, "", [])]
    return given, missing


def photo_view(photo: Photo) -> PhotoView:
    quality = photo.quality
    base = f"/cases/{photo.case_id}/photos/{photo.id}"
    return PhotoView(
        id=photo.id,
        batch=photo.batch,
        position=photo.position,
        created_at=photo.created_at,
        width=photo.width,
        height=photo.height,
        verdict=photo.quality_verdict,
        score=photo.quality_score,
        defects=quality.named_defects,
        instructions=list(quality.instructions),
        **image_urls(base),
        reading=model_reading(photo),
        malignancy=model_malignancy(photo),
        readable=quality.readable,
        modality=quality.modality,
    )


def batches(photos: list[Photo], follow_up_batches: set[int]) -> list[BatchView]:
    by_batch: dict[int, list[Photo]] = {}
    for p in sorted(photos, key=lambda p: (p.batch, p.position)):
        by_batch.setdefault(p.batch, []).append(p)
    out = []
    for number, group in by_batch.items():
        if number == 1:
            label = "First photos"
        elif number in follow_up_batches:
            label = "Follow-up photos"
        else:
            label = "Later photos"
        out.append(BatchView(number, label, min(p.created_at for p in group), [photo_view(p) for p in group]))
    return out


def retake_prefill(view_photos: list[PhotoView]) -> dict[str, Any]:
    """The retake form's defaults: the quality reasons of the photos that failed (all photos' reasons if
    none did), their instructions as the text, and those photos selected."""
    failing = [p for p in view_photos if p.verdict is not Verdict.accept]
    source = failing or view_photos
    reasons = list(dict.fromkeys(d for p in source for d in p.defects))
    instructions = list(dict.fromkeys(i for p in source for i in p.instructions))
    text = (
        " ".join(instructions)
        or "Please take new photos of the area in daylight, in focus, from about 10 cm."
    )
    return {"reasons": reasons, "instructions": text, "photo_ids": [p.id for p in failing]}


def reviewed(case: Case) -> bool:
    """Whether the pathology service takes a result for the case now (its own rule, asked)."""
    try:
        pathology.require_reviewed(case)
    except IllegalMove:
        return False
    return True


def abilities(
    case: Case, client: Client, *, mine: bool, now: datetime, follow_up_rows=(), visit_rows=()
) -> set[str]:
    """Which forms the page offers (the services still decide; a refused move is shown as a message).
    ``follow_up_rows``: the case's, so that the dermatologist who scheduled the open one may close it."""
    status = case.status
    acting = mine or client.role is Role.admin
    can = set()
    if status in (S.queued, S.emergency) and client.role is Role.dermatologist:
        can.add("claim")
    if status in LEASED_STATUSES and acting and case.assigned_to:
        can.add("renew")
    if status is S.in_review and acting:
        can |= {"release", "retake", "question"}
    if status in (S.in_review, S.diagnosed) and acting:
        can |= {"diagnose", "prescribe"}
    if status is S.diagnosed and acting:
        can.add("follow_up")
    if status in (S.in_review, S.diagnosed) and acting:
        can.add("video_visit")
    proposer = client.user_id is not None and video_visits.proposed_by(case, visit_rows) == client.user_id
    if video_visits.open_visit(case, visit_rows) and (client.role is Role.admin or proposer):
        can |= {"visit_complete", "visit_cancel"}
    if status in (S.emergency, S.in_review, S.diagnosed) and acting:
        can.add("refer")
    scheduler = client.user_id is not None and follow_ups.scheduled_by(case, follow_up_rows) == client.user_id
    if status is not S.closed and (acting or scheduler):
        can.add("close")
    others_hold = lease_active(case, now) and not mine
    if status is not S.closed and (client.role is Role.admin or not others_hold):
        can.add("message")
    if client.role in REVIEWERS and reviewed(case):  # any status from then on; no lease needed
        can.add("pathology")
    return can


def recorder_names(session: Session, case: Case, results: list) -> dict[str, str]:
    """The names of the users of the case's organization who recorded ``results``."""
    return user_names(session, case, {r.recorded_by_user_id for r in results})


def user_names(session: Session, case: Case, ids: set[str | None]) -> dict[str, str]:
    """The names of these users of the case's organization (user id -> name)."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    rows = session.execute(
        select(User.id, User.name).where(User.organization_id == case.organization_id, User.id.in_(ids))
    )
    return {user_id: name for user_id, name in rows}


def case_view(session: Session, *, client: Client, case_id: str, now: datetime) -> CaseView:
    """Raises CaseNotFound for a case of another organization or outside the caller's licences."""
    case = load_case(session, client=client, case_id=case_id)
    record(session, actor=client.actor, action="case.read", resource_type="case", resource_id=case.id)
    fus = follow_ups.of_case(session, case=case)
    given, missing = answers(case.questionnaire or {})
    view = CaseView(
        case=case,
        now=now,
        batches=batches(case.photos, {f.received_batch for f in fus if f.received_batch}),
        answers=given,
        unanswered=missing,
        diagnoses=diagnosis.history(session, case=case),
        prescriptions=prescriptions.of_case(session, case=case),
        follow_ups=fus,
        dispositions=disposition.of_case(session, case=case),
        renewals=renewals.of_case(session, case=case),
    )
    view.pathology, view.outcome_label = pathology.findings(session, case=case)
    view.recorders = recorder_names(session, case, view.pathology)
    view.authors = user_names(
        session,
        case,
        {r.created_by_user_id for r in (*view.diagnoses, *view.dispositions)}
        | {p.prescribed_by_user_id for p in view.prescriptions},
    )
    view.outcome = outcome_view(view.outcome_label)
    record(session, actor=client.actor, action="consult.read", resource_type="case", resource_id=case.id)
    view.thread = messages.thread(session, client=client, case_id=case.id)
    if case.assigned_to:
        view.holder_name = session.scalar(select(User.name).where(User.id == case.assigned_to))
    view.held_by_me = held_by(case, client.user_id, now)
    view.lease_active = lease_active(case, now)
    view.video_visits = video_visits.of_case(session, case=case)
    view.can = abilities(
        case, client, mine=view.held_by_me, now=now, follow_up_rows=fus, visit_rows=view.video_visits
    )
    view.retake = retake_prefill(view.photos)
    view.patient = patient_panel(session, client=client, case=case, now=now)
    view.note_draft = notes.draft_of(session, case=case, practice_name=client.organization.name)
    view.notes = notes.of_case(session, case=case)
    return view

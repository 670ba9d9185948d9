"""Request and response shapes of the consult API."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from model.outcome import OutcomeLabel
from serving.cases.models import Case
from serving.cases.schemas import ReviewerCaseOut, case_out
from serving.consults.diagnoses import DiagnosisCode
from serving.consults.formulary import Medication
from serving.consults.models import (
    Diagnosis,
    Disposition,
    FollowUp,
    Message,
    PathologyResult,
    Prescription,
    RenewalRequest,
)
from serving.schemas import from_row, image_urls

#: not blank: the pattern says so in the OpenAPI document (whitespace alone strips to nothing)
_NOT_BLANK = r"\S"
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000, pattern=_NOT_BLANK)
]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000, pattern=_NOT_BLANK)
]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=_NOT_BLANK)
]


def _json_number(value: object) -> object:
    """A JSON number, and only that (a plain int or float field would also take "4" or true); 4.0 is the
    integer 4, as JSON Schema says."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    return value


JsonNumber = BeforeValidator(_json_number)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- requests ---------------------------------------------------------------------------------


IcdCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16, pattern=_NOT_BLANK)
]


class DiagnosisIn(_In):
    code: IcdCode = Field(description="ICD-10-CM code from GET /v1/catalogue/diagnoses, e.g. 'L70.0'.")
    certainty: Literal["provisional", "confirmed", "revised"] = Field(
        default="provisional",
        description="'confirmed' or 'revised' for a later diagnosis, e.g. at follow-up.",
    )
    free_text: ShortText | None = Field(default=None, description="Anything the code does not say.")
    assessment: Text = Field(description="The dermatologist's assessment (for the record).")
    patient_plan: Text = Field(description="The plan in words for the patient.")
    draft: bool = Field(
        default=False,
        strict=True,
        description="true: held (no event, not shown to the intake system) until released with the "
        "consult note, POST /v1/cases/{id}/consult-note. false (default): told to the patient at once, "
        "refused (409 consult_note_pending) while the case holds drafts.",
    )


def _iso_date(value: object) -> object:
    """A calendar date written YYYY-MM-DD, and only that (a plain date field would also take a number)."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
IsoDate = Annotated[date, BeforeValidator(_iso_date)]


class PathologyIn(_In):
    icd10: IcdCode = Field(
        description="ICD-10-CM code of the histopathology diagnosis, from GET /v1/catalogue/diagnoses, "
        "e.g. 'C44.91'."
    )
    reported_on: IsoDate = Field(
        description="The pathology report's date, YYYY-MM-DD: not in the future, not before the case."
    )
    report: Text | None = Field(default=None, description="The report's words (at most 5000 characters).")


class PrescriptionIn(_In):
    rxcui: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,10}$")] = Field(
        description="RxNorm ingredient code from GET /v1/catalogue/medications."
    )
    form: Name = Field(description="A dose form the formulary lists for the medication, e.g. 'cream'.")
    strength: Name = Field(description="A strength the formulary lists for that form, e.g. '0.1%'.")
    directions: ShortText = Field(description="Directions for the patient (the sig).")
    quantity: Annotated[float, JsonNumber] = Field(
        gt=0, le=10_000, description="How much to dispense, in the form's unit."
    )
    refills: Annotated[int, JsonNumber] = Field(ge=0, le=11)
    pharmacy_note: ShortText | None = None
    draft: bool = Field(
        default=False,
        strict=True,
        description="true: held (no event, not shown to the intake system) until released with the "
        "consult note, POST /v1/cases/{id}/consult-note. false (default): told to the patient at once, "
        "refused (409 consult_note_pending) while the case holds drafts.",
    )


class RenewalRequestIn(_In):
    note: ShortText | None = Field(default=None, description="What the patient says about the medication.")


class RenewalDecisionIn(_In):
    # what _check_decision requires, for clients reading the OpenAPI document
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"properties": {"decision": {"const": "approve"}}},
                {
                    "properties": {
                        "decision": {"const": "decline"},
                        "reason": {"type": "string"},
                        "quantity": {"type": "null"},
                        "refills": {"type": "null"},
                    },
                    "required": ["reason"],
                },
            ]
        }
    )

    decision: Literal["approve", "decline"]
    reason: ShortText | None = Field(default=None, description="Required to decline; told to the patient.")
    quantity: Annotated[float, Field(gt=0, le=10_000), JsonNumber] | None = Field(
        default=None, description="Approve: else as before."
    )
    refills: Annotated[int, Field(ge=0, le=11), JsonNumber] | None = Field(
        default=None, description="Approve: else as before."
    )


class FollowUpIn(_In):
    due_at: AwareDatetime = Field(description="When the follow-up photos are due (with a time zone).")
    instructions: ShortText = Field(description="What the patient should do and photograph.")


class RetakeRequestIn(_In):
    instructions: ShortText = Field(description="What to photograph and how, in words for the patient.")
    reasons: list[Name] = Field(default_factory=list, max_length=10, description="e.g. 'blurred'.")
    photo_ids: list[Annotated[str, StringConstraints(max_length=36)]] = Field(
        default_factory=list, max_length=20, description="The case's photos the request is about."
    )


class AttachmentIn(_In):
    filename: Annotated[str, StringConstraints(max_length=200)] = ""
    content_base64: str = Field(
        description="The image (JPEG, PNG, WebP, HEIC), base64-encoded.",
        json_schema_extra={"format": "byte", "contentEncoding": "base64"},
    )


class MessageIn(_In):
    body: Text
    question: bool = Field(
        default=False,
        strict=True,
        description="Dermatologists: a question that waits for the patient's answer "
        "(the case leaves review for 'awaiting_patient').",
    )
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=5)


class ReferralIn(_In):
    reason: ShortText
    urgency: Literal["routine", "soon", "urgent"]
    specialty: Name | None = Field(default=None, description="e.g. 'dermatologic surgery'.")
    instructions: ShortText | None = Field(
        default=None, description="In-person instructions for the patient."
    )


class CloseIn(_In):
    reason: ShortText


# -- responses --------------------------------------------------------------------------------


class DiagnosisCodeOut(BaseModel):
    code: str
    title: str
    group: str
    synonyms: list[str]


class ProductOut(BaseModel):
    form: str
    strengths: list[str]
    unit: str


class MedicationOut(BaseModel):
    rxcui: str
    name: str
    route: str
    drug_class: str
    products: list[ProductOut]


class DiagnosisOut(BaseModel):
    id: str
    case_id: str
    code: str
    title: str
    certainty: str
    free_text: str | None
    assessment: str
    patient_plan: str
    created_at: datetime
    created_by_user_id: str | None
    draft: bool = Field(description="Held until a consult note releases it.")
    consult_note_id: str | None = Field(description="The consult note that released it, if one did.")


class PathologyOut(BaseModel):
    id: str
    case_id: str
    code: str
    title: str
    reported_on: date
    report: str | None
    created_at: datetime
    recorded_by_user_id: str | None


class OutcomeLabelOut(BaseModel):
    """What the case turned out to be, for the urgency model: the latest pathology, else the
    dermatologist's last confirmed (or revised) diagnosis, mapped by model/outcome.py."""

    source: Literal["pathology", "diagnosis"]
    code: str
    model_class: str | None = Field(
        description="ACK, BCC, MEL, NEV, SCC or SEK (the urgency model's classes); null outside them."
    )
    category: Literal["malignant", "not_malignant", "outside"] = Field(
        description="'outside': the code is not one of the model's classes."
    )
    malignant: bool | None = Field(description="null: behaviour uncertain or unspecified.")
    mapping_version: str


class ClinicalCaseOut(ReviewerCaseOut):
    """A case as a dermatologist or an admin reads it, with its pathology results and outcome label."""

    pathology: list[PathologyOut] = Field(description="Histopathology results, oldest report first.")
    outcome_label: OutcomeLabelOut | None = Field(
        description="null until the case has a pathology result or a confirmed diagnosis."
    )


class PrescriptionOut(BaseModel):
    id: str
    case_id: str
    diagnosis_id: str
    rxcui: str
    medication: str
    form: str
    strength: str
    directions: str
    quantity: float
    quantity_unit: str
    refills: int
    pharmacy_note: str | None
    renews_id: str | None
    created_at: datetime
    prescribed_by_user_id: str | None
    draft: bool = Field(description="Held until a consult note releases it.")
    consult_note_id: str | None = Field(description="The consult note that released it, if one did.")


class RenewalRequestOut(BaseModel):
    id: str
    kind: Literal["renewal"] = "renewal"
    case_id: str
    prescription_id: str
    status: str
    patient_note: str | None
    requested_at: datetime
    due_at: datetime
    decided_at: datetime | None
    decided_by_user_id: str | None
    decision_reason: str | None
    new_prescription_id: str | None


class FollowUpOut(BaseModel):
    id: str
    case_id: str
    due_at: datetime
    instructions: str
    status: str
    created_at: datetime
    received_at: datetime | None
    received_batch: int | None


class AttachmentOut(BaseModel):
    id: str
    media_type: str
    width: int
    height: int
    size_bytes: int
    sha256: str
    image_url: str
    thumbnail_url: str


class MessageOut(BaseModel):
    id: str
    case_id: str
    sender: str
    kind: str
    body: str
    detail: dict[str, Any] | None
    created_at: datetime
    attachments: list[AttachmentOut]


class DispositionOut(BaseModel):
    id: str
    case_id: str
    kind: str
    reason: str
    urgency: str | None
    specialty: str | None
    instructions: str | None
    created_at: datetime


class CaseRef(BaseModel):
    id: str
    status: str


class ConsultOut(BaseModel):
    case: CaseRef
    diagnoses: list[DiagnosisOut] = Field(description="Oldest first; the last one is current.")
    prescriptions: list[PrescriptionOut]
    renewal_requests: list[RenewalRequestOut]
    follow_ups: list[FollowUpOut]
    dispositions: list[DispositionOut]


class Acted(BaseModel):
    """What an action returns: the case's status afterwards and what was made."""

    case: CaseRef


class DiagnosisActed(Acted):
    diagnosis: DiagnosisOut


class PathologyActed(Acted):
    pathology: PathologyOut
    outcome_label: OutcomeLabelOut


class PrescriptionActed(Acted):
    prescription: PrescriptionOut


class RenewalActed(Acted):
    renewal_request: RenewalRequestOut
    prescription: PrescriptionOut | None = None


class FollowUpActed(Acted):
    follow_up: FollowUpOut


class MessageActed(Acted):
    message: MessageOut


class DispositionActed(Acted):
    disposition: DispositionOut


# -- conversions ------------------------------------------------------------------------------


def diagnosis_code_out(d: DiagnosisCode) -> DiagnosisCodeOut:
    return from_row(DiagnosisCodeOut, d, synonyms=list(d.synonyms))


def medication_out(m: Medication) -> MedicationOut:
    products = [from_row(ProductOut, p, strengths=list(p.strengths)) for p in m.products]
    return from_row(MedicationOut, m, products=products)


def diagnosis_out(d: Diagnosis) -> DiagnosisOut:
    return from_row(DiagnosisOut, d, code=d.icd10_code, title=d.icd10_title)


def prescription_out(p: Prescription) -> PrescriptionOut:
    return from_row(PrescriptionOut, p)


def renewal_out(r: RenewalRequest) -> RenewalRequestOut:
    return from_row(RenewalRequestOut, r)


def follow_up_out(f: FollowUp) -> FollowUpOut:
    return from_row(FollowUpOut, f)


def disposition_out(d: Disposition) -> DispositionOut:
    return from_row(DispositionOut, d)


def message_out(m: Message) -> MessageOut:
    base = f"/v1/cases/{m.case_id}/messages/{m.id}/attachments"
    attachments = [from_row(AttachmentOut, a, **image_urls(f"{base}/{a.id}")) for a in m.attachments]
    return from_row(MessageOut, m, attachments=attachments)


def pathology_out(p: PathologyResult) -> PathologyOut:
    return from_row(PathologyOut, p, code=p.icd10_code, title=p.icd10_title)


def outcome_label_out(label: OutcomeLabel | None) -> OutcomeLabelOut | None:
    return None if label is None else OutcomeLabelOut.model_validate(label, from_attributes=True)


def clinical_case_out(
    case: Case, results: list[PathologyResult], label: OutcomeLabel | None
) -> ClinicalCaseOut:
    reviewed = case_out(case, reviewer=True)
    return ClinicalCaseOut(
        **dict(reviewed),
        pathology=[pathology_out(p) for p in results],
        outcome_label=outcome_label_out(label),
    )

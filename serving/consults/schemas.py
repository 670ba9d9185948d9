"""Request and response shapes of the consult API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from serving.consults.diagnoses import DiagnosisCode
from serving.consults.formulary import Medication
from serving.consults.models import Diagnosis, Disposition, FollowUp, Message, Prescription, RenewalRequest

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- requests ---------------------------------------------------------------------------------


class DiagnosisIn(_In):
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)] = Field(
        description="ICD-10-CM code from GET /v1/catalogue/diagnoses, e.g. 'L70.0'."
    )
    certainty: Literal["provisional", "confirmed", "revised"] = Field(
        default="provisional",
        description="'confirmed' or 'revised' for a later diagnosis, e.g. at follow-up.",
    )
    free_text: ShortText | None = Field(default=None, description="Anything the code does not say.")
    assessment: Text = Field(description="The dermatologist's assessment (for the record).")
    patient_plan: Text = Field(description="The plan in words for the patient.")


class PrescriptionIn(_In):
    rxcui: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,10}$")] = Field(
        description="RxNorm ingredient code from GET /v1/catalogue/medications."
    )
    form: Name = Field(description="A dose form the formulary lists for the medication, e.g. 'cream'.")
    strength: Name = Field(description="A strength the formulary lists for that form, e.g. '0.1%'.")
    directions: ShortText = Field(description="Directions for the patient (the sig).")
    quantity: float = Field(gt=0, le=10_000, description="How much to dispense, in the form's unit.")
    refills: int = Field(ge=0, le=11)
    pharmacy_note: ShortText | None = None


class RenewalRequestIn(_In):
    note: ShortText | None = Field(default=None, description="What the patient says about the medication.")


class RenewalDecisionIn(_In):
    decision: Literal["approve", "decline"]
    reason: ShortText | None = Field(default=None, description="Required to decline; told to the patient.")
    quantity: float | None = Field(default=None, gt=0, le=10_000, description="Approve: else as before.")
    refills: int | None = Field(default=None, ge=0, le=11, description="Approve: else as before.")


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
    content_base64: str = Field(description="The image (JPEG, PNG, WebP, HEIC), base64-encoded.")


class MessageIn(_In):
    body: Text
    question: bool = Field(
        default=False,
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
    return DiagnosisCodeOut(code=d.code, title=d.title, group=d.group, synonyms=list(d.synonyms))


def medication_out(m: Medication) -> MedicationOut:
    return MedicationOut(
        rxcui=m.rxcui,
        name=m.name,
        route=m.route,
        drug_class=m.drug_class,
        products=[ProductOut(form=p.form, strengths=list(p.strengths), unit=p.unit) for p in m.products],
    )


def diagnosis_out(d: Diagnosis) -> DiagnosisOut:
    return DiagnosisOut(
        id=d.id,
        case_id=d.case_id,
        code=d.icd10_code,
        title=d.icd10_title,
        certainty=d.certainty,
        free_text=d.free_text,
        assessment=d.assessment,
        patient_plan=d.patient_plan,
        created_at=d.created_at,
        created_by_user_id=d.created_by_user_id,
    )


def prescription_out(p: Prescription) -> PrescriptionOut:
    return PrescriptionOut.model_validate(p, from_attributes=True)


def renewal_out(r: RenewalRequest) -> RenewalRequestOut:
    return RenewalRequestOut.model_validate(r, from_attributes=True)


def follow_up_out(f: FollowUp) -> FollowUpOut:
    return FollowUpOut.model_validate(f, from_attributes=True)


def disposition_out(d: Disposition) -> DispositionOut:
    return DispositionOut.model_validate(d, from_attributes=True)


def message_out(m: Message) -> MessageOut:
    base = f"/v1/cases/{m.case_id}/messages/{m.id}/attachments"
    return MessageOut(
        id=m.id,
        case_id=m.case_id,
        sender=m.sender,
        kind=m.kind,
        body=m.body,
        detail=m.detail,
        created_at=m.created_at,
        attachments=[
            AttachmentOut(
                id=a.id,
                media_type=a.media_type,
                width=a.width,
                height=a.height,
                size_bytes=a.size_bytes,
                sha256=a.sha256,
                image_url=f"{base}/{a.id}/image",
                thumbnail_url=f"{base}/{a.id}/thumbnail",
            )
            for a in m.attachments
        ],
    )

"""Request and response shapes of the intake API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from model.triage.care_setting import CARE_SETTING_REASONS, CareSetting
from serving.cases.models import Case, Photo
from serving.schemas import from_row, image_urls


class SubmitterRole(StrEnum):
    patient = "patient"
    caregiver = "caregiver"
    clinician = "clinician"


#: SubmittedBy's fields added after its first release: dumped only when given
_LATER_FIELDS = frozenset({"relation", "practice_id", "address", "question"})


class SubmittedBy(BaseModel):
    """Who sent the case: the patient, a caregiver, or a referring clinician (primary care,
    a nursing home...). Every submission takes the same path."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        # the rule of _clinician_names_practice, for clients reading the OpenAPI document
        json_schema_extra={
            "anyOf": [
                {"properties": {"role": {"enum": ["patient", "caregiver"]}}},
                {
                    "properties": {
                        "role": {"const": "clinician"},
                        "practice": {"type": "string", "pattern": r"\S"},
                    },
                    "required": ["role", "practice"],
                },
            ]
        },
    )

    role: SubmitterRole = SubmitterRole.patient
    name: str | None = Field(default=None, max_length=200)
    practice: str | None = Field(
        default=None, max_length=300, description="The referring practice (clinicians)."
    )
    contact: str | None = Field(default=None, max_length=300, description="Phone or e-mail for call-backs.")
    relation: str | None = Field(
        default=None,
        max_length=100,
        description="A caregiver's relation to the patient (daughter, nurse...).",
    )
    practice_id: str | None = Field(
        default=None,
        max_length=100,
        description="The referring practice's identifier (an NPI, an ODS code...), for the referral letter.",
    )
    address: str | None = Field(
        default=None, max_length=500, description="The referring practice's postal address (clinicians)."
    )
    question: str | None = Field(
        default=None,
        max_length=2000,
        description="The referring clinician's question to the dermatologist (else the patient's concern).",
    )

    @model_serializer(mode="wrap")
    def _without_unset_details(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The fields added for referral letters and caregivers are left out while null: a submission
        without them dumps (and fingerprints, for idempotency) exactly as it did before they existed."""
        out = handler(self)
        return {k: v for k, v in out.items() if k not in _LATER_FIELDS or v is not None}

    @model_validator(mode="after")
    def _clinician_names_practice(self) -> SubmittedBy:
        if self.role is SubmitterRole.clinician and not (self.practice and self.practice.strip()):
            raise ValueError("a clinician's referral must name the referring practice in 'practice'")
        return self


class CheckOut(BaseModel):
    score: float
    passed: bool
    threshold: float


class QualityModelOut(BaseModel):
    """The learned quality model's reading: P(retake) and the estimated severity (0-1) per defect."""

    version: str
    retake: float
    defects: dict[str, float]


class QualityOut(BaseModel):
    verdict: str = Field(description="accept, or retake: a better photo is requested")
    readable: bool = Field(
        True,
        description="The photo can be read at all. Only a case without one readable photo waits for a "
        "retake out of the queue (and only while its tier is below PRIORITY).",
    )
    modality: str | None = Field(None, description="clinical, dermoscopic or not_skin")
    score: float
    #: what is wrong, most important first (one instruction each, in the same order)
    defects: list[str] = []
    instructions: list[str]
    checks: dict[str, CheckOut]
    model: QualityModelOut | None = None


class PhotoQualityOut(BaseModel):
    id: str
    quality: QualityOut


class UrgencyModelOut(BaseModel):
    """The urgency model's reading of a photo, for dermatologists and admins only (a patient is never
    shown a probability): the calibrated probability that the lesion is malignant (BCC, MEL or SCC)
    and the probability of each diagnosis class."""

    version: str
    malignancy: float = Field(ge=0, le=1)
    diagnosis: dict[str, float]
    outside_validated_domain: bool = Field(
        False, description="The photo is dermoscopic: the model is validated on phone photos only."
    )


class ReviewedPhotoOut(PhotoQualityOut):
    #: None when the model did not read the photo (it could not be read at all, or no model was loaded)
    urgency_model: UrgencyModelOut | None


class TriageOut(BaseModel):
    tier: str
    urgency_score: float
    retake_required: bool = Field(description="No readable photo yet: a retake is required.")
    better_photo_requested: bool = Field(
        False, description="The photos can be read but none is good as it is: a retake was requested."
    )
    reasons: list[str]
    care_setting: CareSetting | None = Field(
        None,
        description="Where care should likely happen, as triage judged it: remote (the online review should "
        "suffice), in_person_likely (the lesion is likely to need an in-person exam or a biopsy; the patient "
        "advice says so) or emergency (tier EMERGENCY). Null only for a case triaged before the field "
        "existed.",
    )
    care_setting_reasons: list[str] = Field(
        [], description="Why: the reasons of the care-setting rules that set it (also listed in reasons)."
    )
    patient_advice: list[str]
    review_due_at: datetime | None
    triaged_at: datetime
    model_versions: dict[str, str]
    photos: list[PhotoQualityOut]


class ReviewerTriageOut(TriageOut):
    photos: list[ReviewedPhotoOut]


class PhotoOut(BaseModel):
    id: str
    batch: int = Field(description="1 for the first submission, then one more for each retake or follow-up.")
    position: int
    created_at: datetime
    media_type: str
    width: int
    height: int
    size_bytes: int
    sha256: str
    image_url: str
    thumbnail_url: str


class CaseOut(BaseModel):
    id: str
    status: str
    created_at: datetime
    updated_at: datetime
    jurisdiction: str
    questionnaire: dict[str, Any]
    submitted_by: dict[str, Any]
    patient_id: str | None = Field(None, description="The patient's id (GET /v1/patients/{id}), if sent.")
    lesion_id: str | None = Field(None, description="The patient's lesion the photos show, if named.")
    photos: list[PhotoOut]
    triage: TriageOut


class ReviewerCaseOut(CaseOut):
    """A case as a dermatologist or an admin reads it: the model's reading of each photo as well."""

    triage: ReviewerTriageOut


def photo_out(photo: Photo) -> PhotoOut:
    return from_row(PhotoOut, photo, **image_urls(f"/v1/cases/{photo.case_id}/photos/{photo.id}"))


def urgency_reading(photo: Photo) -> UrgencyModelOut | None:
    """The urgency model's reading stored with the photo at triage, if it read it."""
    p = photo.predictions
    if not p or "malignancy" not in p:
        return None
    return UrgencyModelOut(
        version=p["model"],
        malignancy=p["malignancy"],
        diagnosis=p["diagnosis"],
        outside_validated_domain=p.get("domain") == "outside_validated_domain",
    )


def care_setting_reasons(case: Case) -> list[str]:
    """The care setting's reasons among the case's triage reasons (the care rules' texts are fixed)."""
    return [reason for reason in case.reasons if reason in CARE_SETTING_REASONS]


def case_out(case: Case, *, reviewer: bool = False) -> CaseOut:
    """The case as the API returns it; ``reviewer`` (dermatologists and admins): with the urgency
    model's reading of every photo."""

    def quality(p: Photo) -> QualityOut:
        return QualityOut.model_validate(p.quality.to_json())

    photos = [photo_out(p) for p in case.photos]
    if reviewer:
        readings = [
            ReviewedPhotoOut(id=p.id, quality=quality(p), urgency_model=urgency_reading(p))
            for p in case.photos
        ]
        return from_row(
            ReviewerCaseOut,
            case,
            photos=photos,
            triage=from_row(
                ReviewerTriageOut, case, photos=readings, care_setting_reasons=care_setting_reasons(case)
            ),
        )
    qualities = [PhotoQualityOut(id=p.id, quality=quality(p)) for p in case.photos]
    return from_row(
        CaseOut,
        case,
        photos=photos,
        triage=from_row(TriageOut, case, photos=qualities, care_setting_reasons=care_setting_reasons(case)),
    )

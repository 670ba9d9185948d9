"""What ``GET /v1/patients/{id}`` answers, and what ``POST /v1/cases/{id}/lesion`` takes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from model.questionnaire import BodySite
from serving.consults.schemas import DiagnosisOut, FollowUpOut, PrescriptionOut


class PatientCaseOut(BaseModel):
    id: str
    status: str
    created_at: datetime
    tier: str
    lesion_id: str | None
    diagnoses: list[DiagnosisOut] = Field(description="Oldest first; the last one is current.")
    prescriptions: list[PrescriptionOut]
    follow_ups: list[FollowUpOut]


class TimelinePhotoOut(BaseModel):
    id: str
    case_id: str
    created_at: datetime = Field(description="When the photo was received.")
    image_url: str
    thumbnail_url: str


class LesionOut(BaseModel):
    id: str
    label: str
    body_site: str | None
    created_at: datetime
    photos: list[TimelinePhotoOut] = Field(description="The lesion's photos over time, oldest first.")


class PatientOut(BaseModel):
    id: str
    external_id: str
    birth_year: int | None
    sex: str | None
    display_name: str | None
    created_at: datetime
    cases: list[PatientCaseOut] = Field(description="Oldest first (a dermatologist: those they may see).")
    lesions: list[LesionOut]


class LesionLinkIn(BaseModel):
    """Which of the patient's lesions the case shows: an existing one (``lesion_id``) or a new one
    (``label``, found by label if the patient has it already)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        # the rule of _one_of, for clients reading the OpenAPI document
        json_schema_extra={
            "anyOf": [
                {
                    "properties": {"lesion_id": {"type": "string"}, "label": {"type": "null"}},
                    "required": ["lesion_id"],
                },
                {
                    "properties": {"label": {"type": "string"}, "lesion_id": {"type": "null"}},
                    "required": ["label"],
                },
            ]
        },
    )

    lesion_id: Annotated[str | None, Field(min_length=1, max_length=36)] = None
    label: Annotated[str | None, Field(min_length=1, max_length=120, pattern=r"\S")] = None
    body_site: BodySite | None = None

    @model_validator(mode="after")
    def _one_of(self) -> LesionLinkIn:
        if (self.lesion_id is None) == (self.label is None):
            raise ValueError("send either 'lesion_id' (an existing lesion) or 'label' (a new one)")
        return self


class LesionLinked(BaseModel):
    case_id: str
    lesion: LesionOut

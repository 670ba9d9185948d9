"""The patient questionnaire: the one definition shared by the intake API, the triage
rules and (later) the models' feature encoding.

Every field but ``jurisdiction`` is optional; a yes/no question may be ``None`` for
"unknown / not answered". Unknown fields and wrong types are rejected (strict mode),
so a client learns which field to fix.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Sex(StrEnum):
    female = "female"
    male = "male"
    other = "other"
    unknown = "unknown"


class BodySite(StrEnum):
    face = "face"
    scalp = "scalp"
    ear = "ear"
    nose = "nose"
    lip = "lip"
    neck = "neck"
    chest = "chest"
    abdomen = "abdomen"
    back = "back"
    arm = "arm"
    forearm = "forearm"
    hand = "hand"
    thigh = "thigh"
    leg = "leg"
    foot = "foot"
    genital = "genital"
    other = "other"


JURISDICTION_PATTERN = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")
#: A language tag, BCP 47-ish (``pt-BR``, ``es``, ``pt_br``): letters, digits, ``-`` and ``_`` only.
LANGUAGE_PATTERN = r"^[A-Za-z0-9_-]+$"

YesNo = bool | None

#: The yes/no questions, in a fixed order (the model contract encodes them in this order).
BOOLEAN_FIELDS: tuple[str, ...] = (
    "itch",
    "pain",
    "bleeding",
    "grew",
    "changed",
    "elevated",
    "fever",
    "spreading_rapidly",
    "blistering_or_peeling",
    "mucosal_involvement",
    "immunosuppressed",
    "pregnant",
    "skin_cancer_history",
)


class Questionnaire(BaseModel):
    """What the patient (or the referring clinician) answered about the lesion."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, use_enum_values=False)

    jurisdiction: Annotated[
        str,
        Field(
            description="Where the patient is, as ISO 3166 country[-subdivision], e.g. US-CA.",
            # documented for clients; the validator below checks it (with its own message)
            json_schema_extra={"pattern": JURISDICTION_PATTERN.pattern},
        ),
    ]
    age: Annotated[int | None, Field(ge=0, le=120, description="Age in years.")] = None
    sex: Sex | None = None
    body_site: BodySite | None = None
    duration_days: Annotated[int | None, Field(ge=0, le=36500)] = None
    size_mm: Annotated[float | None, Field(ge=0, le=1000)] = None
    itch: YesNo = None
    pain: YesNo = None
    bleeding: YesNo = None
    grew: YesNo = None
    changed: YesNo = None
    elevated: YesNo = None
    fever: YesNo = None
    spreading_rapidly: YesNo = None
    blistering_or_peeling: YesNo = None
    mucosal_involvement: YesNo = None
    immunosuppressed: YesNo = None
    pregnant: YesNo = None
    skin_cancer_history: YesNo = None
    fitzpatrick: Annotated[int | None, Field(ge=1, le=6, description="Fitzpatrick skin type.")] = None
    medications: Annotated[str | None, Field(max_length=2000)] = None
    concern: Annotated[str | None, Field(max_length=4000)] = None
    # Not a clinical answer: no triage rule or model reads it (features.encode names its fields).
    language: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=35,
            pattern=LANGUAGE_PATTERN,
            description="Language of the patient-facing texts (instructions, advice): en, es or pt-BR; "
            "others fall back to en. A BCP 47 tag such as pt-BR.",
        ),
    ] = None
    capture_device: Annotated[
        Literal["phone", "dermatoscope"] | None,
        Field(
            description="What took the photos, when the sending system knows it (a clinic's dermatoscope): "
            "photos declared 'dermatoscope' are judged as dermoscopic unless they show no skin at all."
        ),
    ] = None
    # Not clinical answers either: no triage rule or model reads them.
    lesion_label: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=120,
            pattern=r"\S",
            description="Which of the patient's lesions the photos show, in a few words (e.g. 'mole left "
            "shoulder'); with a `patient`, the photos join that lesion's timeline.",
        ),
    ] = None
    consent_research: bool = Field(
        False,
        description="The patient agreed that their photos and outcome may be used to improve the models.",
    )

    @field_validator("jurisdiction")
    @classmethod
    def _jurisdiction_code(cls, value: str) -> str:
        if not JURISDICTION_PATTERN.match(value):
            raise ValueError("must be an ISO 3166 code such as 'US' or 'US-CA' (upper case)")
        return value

    @field_validator("sex", mode="before")
    @classmethod
    def _sex_from_string(cls, value: object) -> object:
        # strict mode refuses plain strings for enums in Python mode; JSON only has strings.
        return Sex(value) if isinstance(value, str) and value in Sex.__members__ else value

    @field_validator("body_site", mode="before")
    @classmethod
    def _site_from_string(cls, value: object) -> object:
        return BodySite(value) if isinstance(value, str) and value in BodySite.__members__ else value

    @field_validator("size_mm", mode="before")
    @classmethod
    def _size_accepts_int(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value

    @field_validator("age", "duration_days", "fitzpatrick", mode="before")
    @classmethod
    def _whole_number(cls, value: object) -> object:
        # JSON has one number type: 30.0 is the integer 30 (as JSON Schema says), 30.5 is not
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

"""The ``patient`` an intake system sends with a case."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from model.questionnaire import Sex


def _no_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError("must not contain a NUL character (\\u0000)")
    return value


class PatientIn(BaseModel):
    """Who the case is about, as the intake system knows them: ``external_id`` is its own id for the
    patient (unique in the organization); the other fields are optional and kept as first sent."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    external_id: Annotated[
        str,
        Field(
            min_length=1,
            max_length=128,
            pattern=r"\S",
            description="The intake system's own id for the patient (no name, no e-mail: a pseudonym).",
        ),
    ]
    birth_year: Annotated[int | None, Field(ge=1900, le=2100)] = None
    sex: Sex | None = None
    display_name: Annotated[
        str | None, Field(min_length=1, max_length=200, description="How the dermatologist sees the patient.")
    ] = None

    @field_validator("sex", mode="before")
    @classmethod
    def _sex_from_string(cls, value: object) -> object:
        return Sex(value) if isinstance(value, str) and value in Sex.__members__ else value

    @field_validator("external_id", "display_name")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return _no_nul(value)

"""The intake questionnaire as a FHIR Questionnaire, generated from the one definition the JSON API
validates against (``model.questionnaire.Questionnaire``): one item per field, its type from the
field's type (yes/no -> boolean, whole number -> integer, number -> decimal, text -> string or text,
an enumeration -> choice with its values as answerOption), its bounds as the standard extensions
(minValue, maxValue, minLength, regex) and ``maxLength``, ``required`` where the field is.

And the way back: a QuestionnaireResponse's answers as the JSON object the pydantic model takes
(``answers``), so that the Bundle intake is validated by the same model as ``POST /v1/cases``."""

from __future__ import annotations

import enum
import types
import typing
from decimal import Decimal
from typing import Any

import annotated_types
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.extension import Extension
from fhir.resources.R4B.questionnaire import Questionnaire as FhirQuestionnaire
from fhir.resources.R4B.questionnaire import (
    QuestionnaireItem,
    QuestionnaireItemAnswerOption,
    QuestionnaireItemInitial,
)
from pydantic.fields import FieldInfo

from model.questionnaire import Questionnaire
from serving.fhir.codes import BASE, MAX_VALUE, MIN_LENGTH, MIN_VALUE, REGEX, system

ID = "dermatriage-intake"
URL = f"{BASE}/Questionnaire/{ID}"
#: text longer than this is a FHIR ``text`` item (several lines), else ``string``
_LONG_TEXT = 255


class UnknownAnswer(ValueError):
    """A QuestionnaireResponse item that names no question, or an answer of the wrong type."""

    def __init__(self, link_id: str, message: str):
        super().__init__(message)
        self.link_id = link_id


def _base_type(annotation: Any) -> Any:
    """``X`` of ``X | None``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            return options[0]
    return annotation


def choices(field: FieldInfo) -> list[str] | None:
    """The values an enumerated field takes (an Enum's values, a Literal's), else None."""
    base = _base_type(field.annotation)
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return [member.value for member in base]
    if typing.get_origin(base) is typing.Literal:
        return [str(value) for value in typing.get_args(base)]
    return None


def item_type(field: FieldInfo) -> str:
    """The FHIR item type of a field of the questionnaire."""
    if choices(field) is not None:
        return "choice"
    base = _base_type(field.annotation)
    if base is bool:
        return "boolean"
    if base is int:
        return "integer"
    if base is float:
        return "decimal"
    if base is str:
        limit = _limit(field, annotated_types.MaxLen, "max_length")
        return "text" if limit is not None and limit > _LONG_TEXT else "string"
    raise TypeError(f"no FHIR item type for {field.annotation!r}")


def _limit(field: FieldInfo, kind: type, attribute: str) -> Any:
    for meta in field.metadata:
        if isinstance(meta, kind):
            return getattr(meta, attribute)
    return None


def _pattern(field: FieldInfo) -> str | None:
    for meta in field.metadata:
        pattern = getattr(meta, "pattern", None)
        if isinstance(pattern, str):
            return pattern
    extra = field.json_schema_extra
    return extra.get("pattern") if isinstance(extra, dict) else None


def _value(kind: str, value: Any) -> dict[str, Any]:
    return {"valueInteger": int(value)} if kind == "integer" else {"valueDecimal": Decimal(str(value))}


def _extensions(field: FieldInfo, kind: str) -> list[Extension]:
    found = []
    low = _limit(field, annotated_types.Ge, "ge")
    high = _limit(field, annotated_types.Le, "le")
    if low is not None:
        found.append(Extension(url=MIN_VALUE, **_value(kind, low)))
    if high is not None:
        found.append(Extension(url=MAX_VALUE, **_value(kind, high)))
    shortest = _limit(field, annotated_types.MinLen, "min_length")
    if shortest is not None:
        found.append(Extension(url=MIN_LENGTH, valueInteger=shortest))
    pattern = _pattern(field)
    if pattern is not None:
        found.append(Extension(url=REGEX, valueString=pattern))
    return found


def _text(name: str, field: FieldInfo, kind: str) -> str:
    if field.description:
        return field.description
    words = name.replace("_", " ")
    return f"{words[0].upper()}{words[1:]}" + ("?" if kind == "boolean" else "")


def item(name: str, field: FieldInfo) -> QuestionnaireItem:
    """The Questionnaire item of one field (``linkId``: the field's name)."""
    kind = item_type(field)
    values: dict[str, Any] = {"linkId": name, "text": _text(name, field, kind), "type": kind}
    if field.is_required():
        values["required"] = True
    longest = _limit(field, annotated_types.MaxLen, "max_length")
    if longest is not None:
        values["maxLength"] = longest
    options = choices(field)
    if options is not None:
        values["answerOption"] = [
            QuestionnaireItemAnswerOption(
                valueCoding=Coding(system=system(name), code=option, display=option)
            )
            for option in options
        ]
    if kind == "boolean" and field.default is not None and not field.is_required():
        values["initial"] = [QuestionnaireItemInitial(valueBoolean=field.default)]
    extensions = _extensions(field, kind)
    if extensions:
        values["extension"] = extensions
    return QuestionnaireItem(**values)


def intake_questionnaire() -> FhirQuestionnaire:
    """The FHIR Questionnaire of ``model.questionnaire.Questionnaire``, one item per field in order."""
    return FhirQuestionnaire(
        id=ID,
        url=URL,
        name="DermatriageIntake",
        title="Teledermatology intake questionnaire",
        status="active",
        subjectType=["Patient"],
        description=(Questionnaire.__doc__ or "").strip(),
        item=[item(name, field) for name, field in Questionnaire.model_fields.items()],
    )


# -- the way back: a QuestionnaireResponse's answers ------------------------------------------


def _answer_value(name: str, kind: str, answer: Any) -> Any:
    """The JSON value of one answer of a ``kind`` item."""
    attribute = {
        "boolean": "valueBoolean",
        "integer": "valueInteger",
        "decimal": "valueDecimal",
        "string": "valueString",
        "text": "valueString",
    }.get(kind)
    if kind == "choice":
        coding = answer.valueCoding
        value = coding.code if coding is not None else answer.valueString
    else:
        value = getattr(answer, attribute)
        if kind == "decimal" and value is None and answer.valueInteger is not None:
            value = answer.valueInteger
    if value is None:
        expected = "valueCoding (or valueString)" if kind == "choice" else attribute
        raise UnknownAnswer(name, f"the answer to {name!r} ({kind}) must be given as {expected}")
    return float(value) if isinstance(value, Decimal) else value


def answers(items: list[Any] | None) -> dict[str, Any]:
    """The QuestionnaireResponse ``items`` as the JSON object ``model.questionnaire.Questionnaire``
    validates: an item per question (its ``linkId``: the field), at most one answer each; an item
    without an answer is a question left unanswered. UnknownAnswer names what does not fit."""
    fields = Questionnaire.model_fields
    found: dict[str, Any] = {}
    for response_item in items or []:
        name = response_item.linkId
        if name not in fields:
            raise UnknownAnswer(name, f"{name!r} is not a question of {URL}")
        given = response_item.answer or []
        if len(given) > 1:
            raise UnknownAnswer(name, f"{name!r} takes one answer, not {len(given)}")
        if given:
            found[name] = _answer_value(name, item_type(fields[name]), given[0])
    return found

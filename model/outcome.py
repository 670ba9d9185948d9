"""A case's outcome as the urgency model sees it: an ICD-10-CM code (a histopathology result or a
dermatologist's diagnosis) mapped to one of the model's classes and to malignant / not malignant /
outside the model's classes. A table a dermatologist can review line by line, like the red-flag rules.

The classes are PAD-UFES-20's, which the urgency model is trained on: ACK actinic keratosis, BCC basal
cell carcinoma, MEL melanoma, NEV nevus, SCC squamous cell carcinoma (Bowen's disease included, as
PAD-UFES-20 counts it), SEK seborrheic keratosis; BCC, MEL and SCC are the malignant ones.

Conventions (checked by the tests):

* A pattern matches a code (ICD-10-CM with the dot) from its start; ``?`` stands for any one character
  (``C44.?1``: the basal cell carcinomas of every skin site, C44.01 to C44.91 and C44.111 to C44.7191).
  The most specific matching row wins (the longest pattern), so a broad "outside" row never hides a
  class row.
* There is no default: a code no row matches is :class:`UnmappedCode`. Every code of the diagnosis
  catalogue is matched by a row on purpose (a test walks the whole catalogue).
* A code outside the model's classes still says whether it is malignant where that is known
  (``malignant``: True / False / None for "uncertain behaviour"), for monitoring beyond the classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

#: Bump whenever a row below changes (monitoring and exported labels record it).
MAPPING_VERSION = "outcome-map-1"

#: the urgency model's classes, in its output order (PAD-UFES-20)
MODEL_CLASSES: tuple[str, ...] = ("ACK", "BCC", "MEL", "NEV", "SCC", "SEK")
MALIGNANT_CLASSES: frozenset[str] = frozenset({"BCC", "MEL", "SCC"})


class Category(StrEnum):
    malignant = "malignant"  # one of the model's malignant classes
    not_malignant = "not_malignant"  # one of the model's benign classes
    outside = "outside"  # not one of the model's classes


class Source(StrEnum):
    pathology = "pathology"  # a histopathology result
    diagnosis = "diagnosis"  # the dermatologist's last confirmed (or revised) diagnosis


@dataclass(frozen=True)
class ClassRule:
    pattern: str
    model_class: str | None  # None: outside the model's classes
    malignant: bool | None  # None: behaviour uncertain or unspecified
    why: str


def _cls(pattern: str, model_class: str, why: str) -> ClassRule:
    return ClassRule(pattern, model_class, model_class in MALIGNANT_CLASSES, why)


def _outside(pattern: str, malignant: bool | None, why: str) -> ClassRule:
    return ClassRule(pattern, None, malignant, why)


RULES: tuple[ClassRule, ...] = (
    # --- the model's classes ---
    _cls("C43", "MEL", "malignant melanoma of skin, every site"),
    _cls("D03", "MEL", "melanoma in situ (lentigo maligna included): PAD-UFES-20 counts it as melanoma"),
    _cls("C44.?1", "BCC", "basal cell carcinoma: the 5th character 1 at every skin site of C44"),
    _cls("C44.?2", "SCC", "squamous cell carcinoma: the 5th character 2 at every skin site of C44"),
    _cls("D04", "SCC", "carcinoma in situ of skin (Bowen's disease): PAD-UFES-20 counts it as SCC"),
    _cls("L57.0", "ACK", "actinic keratosis"),
    _cls("L82", "SEK", "seborrheic keratosis, inflamed or not"),
    _cls("D22", "NEV", "melanocytic nevi, every site"),
    # --- outside the classes, malignant ---
    _outside("C44", True, "other and unspecified malignant neoplasms of skin (e.g. sebaceous carcinoma)"),
    _outside("C4A", True, "Merkel cell carcinoma"),
    # --- outside the classes, behaviour uncertain: not counted either way ---
    _outside("D48.5", None, "neoplasm of uncertain behaviour of skin (e.g. a dysplastic nevus)"),
    _outside("D49.2", None, "neoplasm of unspecified behaviour of skin"),
    # --- outside the classes, benign ---
    _outside("D17", False, "lipoma"),
    _outside("D18", False, "hemangioma"),
    _outside("D23", False, "other benign neoplasm of skin (e.g. dermatofibroma)"),
    _outside("A", False, "infections (chapter I, A00-B99), e.g. anogenital warts"),
    _outside("B", False, "infections and infestations (chapter I, A00-B99)"),
    _outside("L", False, "other diseases of the skin (chapter XII, L00-L99): inflammatory, cysts, scars"),
)


class UnmappedCode(ValueError):
    """A code no row of ``RULES`` matches: add a row for it deliberately."""


@dataclass(frozen=True)
class Mapped:
    model_class: str | None
    category: Category
    malignant: bool | None
    rule: ClassRule


@dataclass(frozen=True)
class OutcomeLabel:
    """A case's outcome label: where it comes from, its code and what it maps to."""

    source: Source
    code: str
    model_class: str | None
    category: Category
    malignant: bool | None
    mapping_version: str = MAPPING_VERSION


def _matches(pattern: str, code: str) -> bool:
    return len(code) >= len(pattern) and all(p in ("?", c) for p, c in zip(pattern, code, strict=False))


def rule_for(code: str) -> ClassRule:
    """The most specific row matching ``code`` (ICD-10-CM with the dot, upper case)."""
    found = [r for r in RULES if _matches(r.pattern, code)]
    if not found:
        raise UnmappedCode(f"no outcome mapping for ICD-10-CM code {code!r}")
    return max(found, key=lambda r: len(r.pattern))


def map_code(code: str) -> Mapped:
    rule = rule_for(code)
    if rule.model_class is None:
        category = Category.outside
    elif rule.model_class in MALIGNANT_CLASSES:
        category = Category.malignant
    else:
        category = Category.not_malignant
    return Mapped(model_class=rule.model_class, category=category, malignant=rule.malignant, rule=rule)


def label(source: Source, code: str) -> OutcomeLabel:
    mapped = map_code(code)
    return OutcomeLabel(
        source=source,
        code=code,
        model_class=mapped.model_class,
        category=mapped.category,
        malignant=mapped.malignant,
    )


def outcome_label(*, pathology_code: str | None, diagnosis_code: str | None) -> OutcomeLabel | None:
    """The latest pathology's code when there is one, else the dermatologist's last confirmed diagnosis's;
    None when the case has neither (only a provisional diagnosis, or none)."""
    if pathology_code is not None:
        return label(Source.pathology, pathology_code)
    if diagnosis_code is not None:
        return label(Source.diagnosis, diagnosis_code)
    return None

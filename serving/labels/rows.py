"""What a case becomes in a label export, as pure functions: whether it may go (research consent, an
outcome label in the model's classes, a usable photo), its pseudonymous ids, and its manifest rows.

The rows follow the training manifest's contract (``data_pipelines.manifest``): the export writes the
same format the training pipeline reads for any source, under its own source
(:data:`~data_pipelines.manifest.SERVICE_SOURCE`), with patient-grouped splits
(:func:`data_pipelines.splits.service_split`). Serving imports only that format and that split rule,
never the raw-data readers.

Pseudonyms: a patient, lesion or photo is named in an export by a hash of the service's own random
id (never the intake system's ``external_id``, never a name): the same patient has the same name in
every export (so its split is stable), and nothing in an export leads back to the patient without the
service's database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from data_pipelines.manifest import (
    QUESTIONNAIRE_FIELDS,
    SERVICE_SOURCE,
    ManifestRow,
    is_malignant,
    validate_questionnaire,
)
from data_pipelines.splits import service_split
from model import outcome
from model.quality_checks.report import Verdict

#: answers never exported: free text (it may name the patient or others) and the consent itself
NOT_EXPORTED: frozenset[str] = frozenset({"medications", "concern", "lesion_label", "consent_research"})
#: the questionnaire fields an export carries
EXPORTED_FIELDS: tuple[str, ...] = tuple(f for f in QUESTIONNAIRE_FIELDS if f not in NOT_EXPORTED)
#: the photo's detected modality -> the manifest's
MANIFEST_MODALITY: Mapping[str, str] = {"clinical": "smartphone", "dermoscopic": "dermoscopy"}


class Skip(StrEnum):
    """Why a case of the chosen organizations is not in the export (counted in ``export.json``)."""

    no_consent = "no research consent"
    patient_erased = "patient erased"
    no_label = "no outcome label (no confirmed diagnosis or pathology)"
    outside_classes = "outcome outside the model's classes"
    no_usable_photo = "no photo the quality gate accepted as a skin photo"
    before_since = "label recorded before --since"


def pseudonym(kind: str, service_id: str) -> str:
    """``svc-<kind>-`` and 20 hex digits of a hash of the service's id: stable, not reversible."""
    digest = hashlib.sha256(f"dermatriage-export:{kind}:{service_id}".encode()).hexdigest()
    return f"svc-{kind}-{digest[:20]}"


def consented(questionnaire: Mapping[str, Any]) -> bool:
    """Research consent is an explicit ``true``; absent (the default) or anything else is no."""
    return questionnaire.get("consent_research") is True


def exported_answers(questionnaire: Mapping[str, Any]) -> dict[str, Any]:
    """The structured answers (no free text, no unknowns), validated as a manifest questionnaire."""
    answers = {k: questionnaire[k] for k in EXPORTED_FIELDS if questionnaire.get(k) is not None}
    validate_questionnaire(answers)
    return answers


def exportable_label(label: outcome.OutcomeLabel | None) -> Skip | None:
    """None when the label can train the model (one of its classes), else why not."""
    if label is None:
        return Skip.no_label
    if label.model_class is None:
        return Skip.outside_classes
    return None


def usable(verdict: str, modality: str | None) -> bool:
    """A photo the gate accepted, of skin (clinical or dermoscopic)."""
    return verdict == Verdict.accept and modality in MANIFEST_MODALITY


@dataclass(frozen=True)
class CaseFacts:
    """What a manifest row needs of its case (the service's ids, not yet pseudonymised)."""

    case_id: str
    patient_id: str | None  # None: a case sent without a patient (its own pseudonymous patient)
    lesion_id: str | None
    questionnaire: Mapping[str, Any]
    label: outcome.OutcomeLabel


@dataclass(frozen=True)
class PhotoFacts:
    photo_id: str
    modality: str  # the photo's detected modality ("clinical" / "dermoscopic")
    path: str  # relative to the export folder
    sha256: str
    width: int
    height: int


def patient_key(case: CaseFacts) -> str:
    return pseudonym("patient", case.patient_id) if case.patient_id else pseudonym("case", case.case_id)


def manifest_row(case: CaseFacts, photo: PhotoFacts, *, k_folds: int, test_share: float) -> ManifestRow:
    """The photo's row: its case's outcome label as the diagnosis (the ICD-10 code kept as the source's
    diagnosis), the patient-grouped split and fold, the structured answers."""
    model_class = case.label.model_class
    if model_class is None:
        raise ValueError(f"case {case.case_id}: the outcome {case.label.code} is outside the model's classes")
    patient = patient_key(case)
    split, fold = service_split(patient, k=k_folds, test_share=test_share)
    lesion = pseudonym("lesion", case.lesion_id) if case.lesion_id else pseudonym("case-lesion", case.case_id)
    return ManifestRow(
        image_id=pseudonym("photo", photo.photo_id),
        path=photo.path,
        sha256=photo.sha256,
        source=SERVICE_SOURCE,
        modality=MANIFEST_MODALITY[photo.modality],
        patient_id=patient,
        lesion_id=lesion,
        diagnosis=model_class,
        source_diagnosis=case.label.code,
        malignant=is_malignant(model_class),
        biopsied=case.label.source == outcome.Source.pathology,
        questionnaire=exported_answers(case.questionnaire),
        split=split,
        fold=fold,
        width=photo.width,
        height=photo.height,
    )

"""The evaluation views of the urgency model, each through the serving path
(``training.urgency.served``):

* ``as_recorded``: the answers as PAD-UFES-20 recorded them;
* ``complete``: every blank answered by a seeded draw from the train patients' answers
  (``AnswerDistribution.impute``); ``draws`` draws, reported as a range — what an intake that asks
  every question sends;
* ``photo_only``: no answer at all;
* ``answered_only``: the photos whose questionnaire was answered (the first phase's blanks absent), as
  recorded.

Each gets the model's figures (malignancy AUC, sensitivity / specificity at the URGENT and PRIORITY
thresholds, calibration, per-class recall, subgroups by Fitzpatrick type, sex, age band and body site,
patient-level bootstrap intervals), melanoma sensitivity on its own, and the tier serving gives
(share flagged URGENT or EMERGENCY among malignant and benign photos).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from data_pipelines.manifest import ManifestRow
from model.triage.tiers import Tier
from training.evaluation.predictions import Predictions
from training.evaluation.report import EvaluationReport, evaluate
from training.urgency.answers import AnswerDistribution, answered
from training.urgency.served import Reading, tier_flip_rate

VIEWS = ("as_recorded", "complete", "photo_only", "answered_only")
AGE_BANDS = ((0, 40, "<40"), (40, 60, "40-59"), (60, 75, "60-74"), (75, 200, "75+"))


def view_answers(
    rows: Sequence[ManifestRow], view: str, distribution: AnswerDistribution, *, seed: int = 0
) -> list[dict[str, Any]]:
    """The answers every photo is read with in ``view`` (``answered_only``: use ``answered_rows``)."""
    if view in ("as_recorded", "answered_only"):
        return [dict(r.questionnaire) for r in rows]
    if view == "photo_only":
        return [{} for _ in rows]
    if view == "complete":
        rng = np.random.default_rng(seed)
        return [distribution.impute(r.questionnaire, rng) for r in rows]
    raise ValueError(f"unknown view {view!r}; expected one of {VIEWS}")


def answered_rows(rows: Sequence[ManifestRow]) -> list[int]:
    """Indices of the photos whose questionnaire was answered."""
    return [i for i, r in enumerate(rows) if answered(r.questionnaire)]


def age_band(age: Any) -> str:
    if age is None:
        return "unknown"
    return next(name for low, high, name in AGE_BANDS if low <= int(age) < high)


def predictions(
    rows: Sequence[ManifestRow], readings: Sequence[Reading], labels: Sequence[str], malignant
) -> Predictions:
    """The served readings as ``Predictions``, grouped by what the patient recorded (not imputed)."""

    def recorded(key: str) -> np.ndarray:
        return np.asarray([str(r.questionnaire.get(key, "unknown")) for r in rows])

    return Predictions(
        image_ids=tuple(r.image_id for r in rows),
        patient_ids=tuple(r.patient_id for r in rows),
        y_true=np.asarray([r.diagnosis for r in rows]),
        probs=np.asarray([x.diagnosis for x in readings], np.float64),
        malignancy=np.asarray([x.malignancy for x in readings], np.float64),
        labels=tuple(labels),
        malignant_labels=tuple(malignant),
        groups={
            "fitzpatrick": recorded("fitzpatrick"),
            "sex": recorded("sex"),
            "age_band": np.asarray([age_band(r.questionnaire.get("age")) for r in rows]),
            "body_site": recorded("body_site"),
        },
    )


@dataclass(frozen=True)
class TierFigures:
    """What serving's tiers mean for a view: the share of malignant photos flagged URGENT or above
    (sensitivity), of benign photos not flagged (specificity), of all photos flagged, and melanoma
    sensitivity (the model's reading at the URGENT threshold)."""

    sensitivity: float
    specificity: float
    flagged: float
    melanoma_sensitivity: float
    n_melanoma: int

    def to_dict(self, prefix: str) -> dict[str, float]:
        return {f"{prefix}tier_{k}": float(v) for k, v in self.__dict__.items()}


def tier_figures(rows: Sequence[ManifestRow], readings: Sequence[Reading], urgent: float) -> TierFigures:
    malignant = np.asarray([r.malignant for r in rows])
    flagged = np.asarray([x.tier >= Tier.URGENT for x in readings])
    melanoma = np.asarray([r.diagnosis == "MEL" for r in rows])
    read_urgent = np.asarray([x.malignancy >= urgent for x in readings])
    return TierFigures(
        sensitivity=float(flagged[malignant].mean()) if malignant.any() else float("nan"),
        specificity=float((~flagged[~malignant]).mean()) if (~malignant).any() else float("nan"),
        flagged=float(flagged.mean()) if len(flagged) else float("nan"),
        melanoma_sensitivity=float(read_urgent[melanoma].mean()) if melanoma.any() else float("nan"),
        n_melanoma=int(melanoma.sum()),
    )


@dataclass(frozen=True)
class ViewResult:
    view: str
    predictions: Predictions = field(repr=False)
    report: EvaluationReport
    tiers: TierFigures
    readings: tuple[Reading, ...] = field(repr=False)

    def metrics(self, prefix: str) -> dict[str, float]:
        return {
            **self.report.metrics_dict(prefix=f"{prefix}{self.view}_"),
            **self.tiers.to_dict(f"{prefix}{self.view}_"),
        }


def judge_view(
    view: str,
    rows: Sequence[ManifestRow],
    readings: Sequence[Reading],
    thresholds: Mapping[str, float],
    *,
    labels: Sequence[str],
    malignant: Sequence[str],
    n_boot: int,
    seed: int,
) -> ViewResult:
    preds = predictions(rows, readings, labels, malignant)
    report = evaluate(preds, thresholds, n_boot=n_boot, seed=seed, prefix=f"{view}_")
    return ViewResult(
        view, preds, report, tier_figures(rows, readings, thresholds["urgent"]), tuple(readings)
    )


def tier_agreement(first: Sequence[Reading], second: Sequence[Reading]) -> float:
    """The share of photos given the same tier in two views."""
    return 1.0 - tier_flip_rate(first, second)

"""Subgroup tables: per value of a photo attribute (Fitzpatrick type, body site), sensitivity and
specificity at the urgent threshold with Wilson intervals (photos as independent), AUC, balanced
accuracy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from training.evaluation.formatting import jsonable
from training.evaluation.metrics import (
    balanced_accuracy,
    malignancy_auc,
    sensitivity_specificity,
    wilson_interval,
)
from training.evaluation.predictions import MISSING_GROUP, Predictions

#: Subgroup rows with fewer malignant or fewer benign photos than this are marked "low n".
LOW_N = 10


@dataclass(frozen=True)
class SubgroupRow:
    """One value of a subgroup attribute. Sensitivity / specificity are at the urgent threshold,
    with Wilson 95 % intervals (photos as independent). ``auc`` is nan unless both classes occur;
    ``balanced_accuracy`` averages the classes present in the subgroup."""

    key: str
    value: str
    n: int
    n_patients: int
    n_malignant: int
    auc: float
    sensitivity: float
    sensitivity_low: float
    sensitivity_high: float
    specificity: float
    specificity_low: float
    specificity_high: float
    balanced_accuracy: float

    @property
    def n_benign(self) -> int:
        return self.n - self.n_malignant

    @property
    def low_n(self) -> bool:
        return self.n_malignant < LOW_N or self.n_benign < LOW_N

    def to_dict(self) -> dict[str, Any]:
        d = {k: jsonable(v) for k, v in self.__dict__.items()}
        d["low_n"] = self.low_n
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SubgroupRow:
        kw = {f: d[f] for f in cls.__dataclass_fields__}
        for f, v in kw.items():
            if v is None:
                kw[f] = float("nan")
        return cls(**kw)


def _group_sort_key(value: str) -> tuple[int, float, str]:
    if value == MISSING_GROUP:
        return (2, 0.0, value)
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def subgroups(preds: Predictions, thresholds: Mapping[str, float], key: str) -> list[SubgroupRow]:
    """One row per value of ``preds.groups[key]`` (every value, however small; numeric values in
    numeric order, text after, :data:`MISSING_GROUP` last)."""
    if key not in preds.groups:
        raise KeyError(f"no group {key!r}; groups: {sorted(preds.groups)}")
    t = float(thresholds["urgent"])
    g = preds.groups[key]
    rows = []
    for value in sorted(set(g.tolist()), key=_group_sort_key):
        sub = preds.take(g == value)
        y, s = sub.y_malignant, sub.malignancy
        n_mal = int(y.sum())
        tp = int((y & (s >= t)).sum())
        tn = int((~y & (s < t)).sum())
        sens, spec = sensitivity_specificity(y, s, t)
        s_lo, s_hi = wilson_interval(tp, n_mal)
        p_lo, p_hi = wilson_interval(tn, len(sub) - n_mal)
        rows.append(
            SubgroupRow(
                key=key,
                value=str(value),
                n=len(sub),
                n_patients=sub.n_patients,
                n_malignant=n_mal,
                auc=malignancy_auc(y, s),
                sensitivity=sens,
                sensitivity_low=s_lo,
                sensitivity_high=s_hi,
                specificity=spec,
                specificity_low=p_lo,
                specificity_high=p_hi,
                balanced_accuracy=balanced_accuracy(sub.y_true, sub.y_pred, len(sub.labels)),
            )
        )
    return rows

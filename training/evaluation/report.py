"""The evaluation report of the urgency model: :func:`evaluate` measures everything (metrics with
bootstrap intervals over shared resamples, confusion matrix, tier table, counts, subgroups) into an
:class:`EvaluationReport`, which round-trips through JSON and writes markdown."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from training.evaluation.bootstrap import Interval, bootstrap_many
from training.evaluation.formatting import fmt, jsonable, metric_title, nan_if_none
from training.evaluation.metrics import (
    BALANCED_ACCURACY,
    MALIGNANCY_AUC,
    MALIGNANCY_BRIER,
    MALIGNANCY_ECE,
    Metric,
    confusion_matrix,
    flagged_rate_at,
    recall_of,
    sensitivity_at,
    specificity_at,
)
from training.evaluation.predictions import LABELS, Predictions
from training.evaluation.subgroups import LOW_N, SubgroupRow, subgroups


@dataclass(frozen=True)
class EvaluationReport:
    """Everything :func:`evaluate` measures. ``metrics`` maps a stable name to an :class:`Interval`:

    ``malignancy_auc``, ``balanced_accuracy``, ``sensitivity_<t>`` / ``specificity_<t>`` /
    ``flagged_rate_<t>`` for each threshold name ``t`` (``urgent``, ``priority``),
    ``recall_<label>`` per class, ``malignancy_ece``, ``malignancy_brier``.
    ``confusion`` is counts (rows true, columns argmax). ``tiers`` counts photos per true class
    (rows, in ``labels`` order) and tier (columns ``tier_names``: the threshold names from the
    highest threshold down, then ``routine``).
    """

    metrics: Mapping[str, Interval]
    thresholds: Mapping[str, float]
    labels: tuple[str, ...] = LABELS
    counts: Mapping[str, int] = field(default_factory=dict)
    confusion: tuple[tuple[int, ...], ...] = ()
    tier_names: tuple[str, ...] = ()
    tiers: tuple[tuple[int, ...], ...] = ()
    subgroups: Mapping[str, tuple[SubgroupRow, ...]] = field(default_factory=dict)
    n_boot: int = 0
    seed: int = 0
    by: str = "patient"
    alpha: float = 0.05
    data_fingerprint: str = ""
    #: Default key prefix of :meth:`to_dict` (e.g. ``"test_"``), set by :func:`evaluate`.
    prefix: str = ""

    def value(self, name: str) -> float:
        """The point estimate of metric ``name`` (nan when absent)."""
        m = self.metrics.get(name)
        return float("nan") if m is None else m.point

    # ---- dict ---------------------------------------------------------------------------

    def metrics_dict(self, prefix: str | None = None) -> dict[str, float]:
        """Only the numeric scalars (metrics with CI bounds, thresholds, counts); nan dropped.

        Suitable for ``mlflow.log_metrics``.
        """
        return {
            k: float(v)
            for k, v in self.to_dict(prefix).items()
            if isinstance(v, int | float) and not isinstance(v, bool) and v is not None
        }

    def to_dict(self, prefix: str | None = None) -> dict[str, Any]:
        """JSON-able dict; nan becomes None. Flat keys, with ``p = prefix`` (e.g. ``"test_"``;
        default: :attr:`prefix`):

        * ``{p}{metric}``, ``{p}{metric}_ci_low``, ``{p}{metric}_ci_high`` per metric;
        * ``{p}threshold_{name}`` per threshold; ``{p}n_images``, ``{p}n_patients``,
          ``{p}n_malignant``, ``{p}n_malignant_patients``, ``{p}n_<label>``;
        * nested: ``{p}bootstrap`` (n, seed, by, alpha, used per metric), ``{p}confusion_matrix``
          (labels, counts), ``{p}tiers`` (labels, tiers, counts), ``{p}subgroups`` (key -> rows),
          and the string ``{p}data_fingerprint``.
        """
        p = self.prefix if prefix is None else prefix
        out: dict[str, Any] = {}
        for name, iv in self.metrics.items():
            out[f"{p}{name}"] = jsonable(iv.point)
            out[f"{p}{name}_ci_low"] = jsonable(iv.low)
            out[f"{p}{name}_ci_high"] = jsonable(iv.high)
        for name, t in self.thresholds.items():
            out[f"{p}threshold_{name}"] = float(t)
        for name, c in self.counts.items():
            out[f"{p}{name}"] = int(c)
        out[f"{p}bootstrap"] = {
            "n": self.n_boot,
            "seed": self.seed,
            "by": self.by,
            "alpha": self.alpha,
            "used": {name: iv.n_used for name, iv in self.metrics.items()},
        }
        out[f"{p}confusion_matrix"] = {
            "labels": list(self.labels),
            "counts": [list(r) for r in self.confusion],
        }
        out[f"{p}tiers"] = {
            "labels": list(self.labels),
            "tiers": list(self.tier_names),
            "counts": [list(r) for r in self.tiers],
        }
        out[f"{p}subgroups"] = {k: [r.to_dict() for r in rows] for k, rows in self.subgroups.items()}
        out[f"{p}data_fingerprint"] = self.data_fingerprint
        return out

    def to_json(self, prefix: str | None = None) -> str:
        return json.dumps(self.to_dict(prefix), indent=2, sort_keys=True, allow_nan=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], prefix: str = "") -> EvaluationReport:
        """Inverse of :meth:`to_dict` (e.g. a champion's stored report, for :func:`compare`).

        Also accepts the flat :meth:`metrics_dict` (e.g. an MLflow run's metrics): then a metric
        is any ``{p}name`` with a ``{p}name_ci_low`` key, resample counts are unknown (0), and
        there is no fingerprint, confusion matrix or subgroup table.
        """
        p = prefix
        boot = d.get(f"{p}bootstrap") or {"n": 0, "seed": 0, "by": "patient", "alpha": 0.05, "used": {}}
        names = list(boot["used"]) or [
            k[len(p) : -len("_ci_low")] for k in d if k.startswith(p) and k.endswith("_ci_low")
        ]
        metrics = {
            name: Interval(
                nan_if_none(d.get(f"{p}{name}")),
                nan_if_none(d.get(f"{p}{name}_ci_low")),
                nan_if_none(d.get(f"{p}{name}_ci_high")),
                int(boot["used"].get(name, 0)),
                int(boot["n"]),
            )
            for name in names
        }
        thr_prefix = f"{p}threshold_"
        thresholds = {k[len(thr_prefix) :]: float(v) for k, v in d.items() if k.startswith(thr_prefix)}
        count_keys = [
            k
            for k, v in d.items()
            if k.startswith(f"{p}n_") and isinstance(v, int | float) and float(v).is_integer()
        ]
        counts = {k[len(p) :]: int(d[k]) for k in count_keys}
        cm = d.get(f"{p}confusion_matrix", {})
        tiers = d.get(f"{p}tiers", {})
        return cls(
            metrics=metrics,
            thresholds=thresholds,
            labels=tuple(cm.get("labels", LABELS)),
            counts=counts,
            confusion=tuple(tuple(int(c) for c in r) for r in cm.get("counts", [])),
            tier_names=tuple(tiers.get("tiers", ())),
            tiers=tuple(tuple(int(c) for c in r) for r in tiers.get("counts", [])),
            subgroups={
                k: tuple(SubgroupRow.from_dict(r) for r in rows)
                for k, rows in d.get(f"{p}subgroups", {}).items()
            },
            n_boot=int(boot["n"]),
            seed=int(boot["seed"]),
            by=str(boot["by"]),
            alpha=float(boot["alpha"]),
            data_fingerprint=str(d.get(f"{p}data_fingerprint", "")),
            prefix=p,
        )

    # ---- markdown -----------------------------------------------------------------------

    def to_markdown(self, title: str | None = None) -> str:
        c = self.counts
        lines: list[str] = []
        if title:
            lines += [f"### {title}", ""]
        if c:
            lines.append(
                f"{c.get('n_images', 0)} photos of {c.get('n_patients', 0)} patients; "
                f"{c.get('n_malignant', 0)} malignant photos ({c.get('n_malignant_patients', 0)} patients)."
            )
        level = int(round((1 - self.alpha) * 100))
        unit = "patient-cluster" if self.by == "patient" else "photo"
        lines.append(
            f"Intervals: {level}% percentile bootstrap, {self.n_boot} {unit} resamples (seed {self.seed}). "
            f"Positive iff malignancy >= threshold."
        )
        if self.thresholds:
            lines.append(
                "Thresholds: " + ", ".join(f"{k} >= {v:.4f}" for k, v in self.thresholds.items()) + "."
            )
        lines += ["", f"| Metric | Value | {level}% CI | Resamples used |", "|---|---:|---|---:|"]
        for name, iv in self.metrics.items():
            ci = "n/a" if math.isnan(iv.low) else f"{fmt(iv.low)} – {fmt(iv.high)}"
            lines.append(f"| {metric_title(name)} | {fmt(iv.point)} | {ci} | {iv.n_used}/{iv.n_boot} |")

        if self.confusion:
            lines += ["", "Confusion matrix (rows: true class, columns: predicted class, counts):", ""]
            lines.append("| true \\ pred | " + " | ".join(self.labels) + " | recall |")
            lines.append("|---|" + "---:|" * (len(self.labels) + 1))
            for lab, row in zip(self.labels, self.confusion, strict=True):
                total = sum(row)
                i = self.labels.index(lab)
                rec = fmt(row[i] / total) if total else "n/a"
                lines.append(f"| {lab} | " + " | ".join(str(v) for v in row) + f" | {rec} |")

        if self.tiers:
            lines += ["", "Triage tier by true class (photos):", ""]
            lines.append("| true class | " + " | ".join(t.upper() for t in self.tier_names) + " |")
            lines.append("|---|" + "---:|" * len(self.tier_names))
            for lab, row in zip(self.labels, self.tiers, strict=True):
                lines.append(f"| {lab} | " + " | ".join(str(v) for v in row) + " |")

        for key, rows in self.subgroups.items():
            lines += [
                "",
                f"Subgroups by {key} (at the urgent threshold; Wilson 95% intervals, photos as independent; "
                f"† = fewer than {LOW_N} malignant or benign photos):",
                "",
                f"| {key} | photos | patients | malignant | AUC | sensitivity | specificity | bal. acc. |",
                "|---|---:|---:|---:|---:|---|---|---:|",
            ]
            for r in rows:
                mark = " †" if r.low_n else ""
                sens = f"{fmt(r.sensitivity)} ({fmt(r.sensitivity_low, 2)}–{fmt(r.sensitivity_high, 2)})"
                spec = f"{fmt(r.specificity)} ({fmt(r.specificity_low, 2)}–{fmt(r.specificity_high, 2)})"
                if math.isnan(r.sensitivity):
                    sens = "n/a"
                if math.isnan(r.specificity):
                    spec = "n/a"
                lines.append(
                    f"| {r.value}{mark} | {r.n} | {r.n_patients} | {r.n_malignant} | {fmt(r.auc)} | "
                    f"{sens} | {spec} | {fmt(r.balanced_accuracy)} |"
                )
        return "\n".join(lines) + "\n"


def _tier_table(preds: Predictions, thresholds: Mapping[str, float]) -> tuple[tuple[str, ...], np.ndarray]:
    names = sorted(thresholds, key=lambda k: (-thresholds[k], k))
    cuts = [float(thresholds[k]) for k in names]
    # tier index = number of thresholds the score does NOT reach, counted from the highest
    tier = np.full(len(preds), len(names), dtype=np.int64)
    for i in range(len(names) - 1, -1, -1):
        tier[preds.malignancy >= cuts[i]] = i
    k, t = len(preds.labels), len(names) + 1
    table = np.bincount(preds.y_true * t + tier, minlength=k * t).reshape(k, t)
    return (*names, "routine"), table


def _check_thresholds(thresholds: Mapping[str, float]) -> dict[str, float]:
    if "urgent" not in thresholds:
        raise ValueError("thresholds must contain 'urgent'")
    out = {str(k): float(v) for k, v in thresholds.items()}
    for k, v in out.items():
        if not math.isfinite(v):
            raise ValueError(f"threshold {k!r} is not finite")
        if k == "routine":
            raise ValueError("'routine' is the tier below all thresholds, not a threshold name")
    if "priority" in out and out["priority"] > out["urgent"]:
        raise ValueError(f"priority threshold {out['priority']} above urgent {out['urgent']}")
    return out


def evaluate(
    preds: Predictions,
    thresholds: Mapping[str, float],
    *,
    n_boot: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
    by: str = "patient",
    prefix: str = "",
) -> EvaluationReport:
    """All metrics with bootstrap intervals (shared resamples), confusion matrix, tier table,
    counts and a subgroup table per key of ``preds.groups``. ``thresholds`` needs ``urgent``
    (and usually ``priority``); every named threshold gets sensitivity / specificity / flagged
    fraction. ``prefix`` (e.g. ``"test_"``) is the default key prefix of
    :meth:`EvaluationReport.to_dict`."""
    thr = _check_thresholds(thresholds)
    metrics: dict[str, Metric] = {"malignancy_auc": MALIGNANCY_AUC, "balanced_accuracy": BALANCED_ACCURACY}
    for name, t in thr.items():
        metrics[f"sensitivity_{name}"] = sensitivity_at(t, f"sensitivity_{name}")
        metrics[f"specificity_{name}"] = specificity_at(t, f"specificity_{name}")
        metrics[f"flagged_rate_{name}"] = flagged_rate_at(t, f"flagged_rate_{name}")
    for label in preds.labels:
        metrics[f"recall_{label}"] = recall_of(label)
    metrics["malignancy_ece"] = MALIGNANCY_ECE
    metrics["malignancy_brier"] = MALIGNANCY_BRIER
    intervals = bootstrap_many(metrics, preds, n=n_boot, seed=seed, alpha=alpha, by=by)

    y_mal = preds.y_malignant
    counts = {
        "n_images": len(preds),
        "n_patients": preds.n_patients,
        "n_malignant": int(y_mal.sum()),
        "n_malignant_patients": len({p for p, m in zip(preds.patient_ids, y_mal, strict=True) if m}),
    }
    per_class = np.bincount(preds.y_true, minlength=len(preds.labels))
    counts.update({f"n_{lab}": int(c) for lab, c in zip(preds.labels, per_class, strict=True)})
    tier_names, tiers = _tier_table(preds, thr)
    cm = confusion_matrix(preds.y_true, preds.probs)
    return EvaluationReport(
        metrics=intervals,
        thresholds=thr,
        labels=preds.labels,
        counts=counts,
        confusion=tuple(tuple(int(v) for v in row) for row in cm),
        tier_names=tier_names,
        tiers=tuple(tuple(int(v) for v in row) for row in tiers),
        subgroups={k: tuple(subgroups(preds, thr, k)) for k in sorted(preds.groups)},
        n_boot=n_boot,
        seed=seed,
        by=by,
        alpha=alpha,
        data_fingerprint=preds.fingerprint(),
        prefix=prefix,
    )

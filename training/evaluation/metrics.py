"""Metrics of the urgency model: weighted kernels, the public metric functions, operating points,
and :class:`Metric` (a metric of :class:`Predictions` that also evaluates under resampling weights).

Pure numpy (scikit-learn is not needed here; the tests cross-check against it).

Operating points (``>=`` semantics everywhere)
    A photo is *positive* (flagged) at threshold ``t`` iff ``malignancy >= t``. The service marks
    a case URGENT when ``malignancy >= thresholds["urgent"]`` and PRIORITY when
    ``thresholds["priority"] <= malignancy < thresholds["urgent"]``.

    * ``urgent``: :func:`choose_threshold_for_sensitivity` on the VALIDATION predictions with
      target 0.95 -- the largest threshold whose validation sensitivity is >= 95 %.
    * ``priority`` (proposal): the same rule with target 0.99 (:func:`choose_thresholds`), so on
      validation at most 1 % of malignant photos fall to ROUTINE. It is <= ``urgent`` by
      construction (sensitivity is non-increasing in the threshold). With ~100 malignant
      validation photos "99 %" means "at most one miss", so the estimate is coarse; the test
      report gives its sensitivity with a CI and the tier-by-class table shows how many ACK
      (pre-malignant) photos land in PRIORITY or above. A rule "predicted class ACK ->
      PRIORITY" is a serving-rule decision and is not made here.

    The largest threshold that reaches the target on validation is the least conservative
    choice: on new data its sensitivity is below the target about half of the time. The
    priority tier is the safety margin; the test CI shows the spread.

Undefined metrics
    Metric functions return ``nan`` (never warn, never raise) when a metric is undefined on the
    data given: AUC with one class only, sensitivity without positives, specificity without
    negatives, a recall without samples of its class, anything on empty data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# the Wilson interval is defined once, in model (serving's monitoring uses it too); re-exported here
from model.proportions import wilson_interval  # noqa: F401
from training.evaluation.predictions import Predictions

#: Bins of the reliability diagram and the ECE (equal width on [0, 1]).
N_CALIBRATION_BINS = 10
#: Absorbs float rounding wherever metric values are compared.
SLACK = 1e-12


# --------------------------------------------------------------------------------------------
# Weighted metric kernels: W is (B, N) non-negative weights (one row per resample), result (B,)
# --------------------------------------------------------------------------------------------


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def auc_weighted(y: np.ndarray, s: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Weighted Mann-Whitney AUC (ties count 1/2) -- equals ROC AUC by the trapezoid rule."""
    if y.size == 0:
        return np.full(W.shape[0], np.nan)
    order = np.argsort(s, kind="stable")
    ss, ys, Ws = s[order], y[order], W[:, order]
    starts = np.flatnonzero(np.r_[True, ss[1:] != ss[:-1]])
    pos = np.add.reduceat(Ws * ys, starts, axis=1)
    neg = np.add.reduceat(Ws * ~ys, starts, axis=1)
    neg_below = np.cumsum(neg, axis=1) - neg
    num = (pos * (neg_below + 0.5 * neg)).sum(axis=1)
    return _div(num, pos.sum(axis=1) * neg.sum(axis=1))


def weighted_rate(mask: np.ndarray, hit: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Per resample, the weighted share of the ``mask`` rows where ``hit`` holds; nan without any."""
    return _div(W @ (mask & hit).astype(np.float64), W @ mask.astype(np.float64))


def _sens_w(y: np.ndarray, s: np.ndarray, t: float, W: np.ndarray) -> np.ndarray:
    return weighted_rate(y, s >= t, W)


def _spec_w(y: np.ndarray, s: np.ndarray, t: float, W: np.ndarray) -> np.ndarray:
    return weighted_rate(~y, s < t, W)


def _rate_w(s: np.ndarray, t: float, W: np.ndarray) -> np.ndarray:
    return _div(W @ (s >= t).astype(np.float64), W.sum(axis=1))


def _recalls_w(y: np.ndarray, pred: np.ndarray, k: int, W: np.ndarray) -> np.ndarray:
    """Per-class recall, (B, k); nan where a class has no weight."""
    onehot = np.zeros((y.size, k))
    onehot[np.arange(y.size), y] = 1.0
    support = W @ onehot
    hits = W @ (onehot * (pred == y)[:, None])
    return _div(hits, support)


def _balanced_accuracy_w(y: np.ndarray, pred: np.ndarray, k: int, W: np.ndarray) -> np.ndarray:
    """Mean recall over the classes present in ``y``; nan where a resample lost one of them."""
    present = np.bincount(y, minlength=k)[:k] > 0
    if not present.any():
        return np.full(W.shape[0], np.nan)
    rec = _recalls_w(y, pred, k, W)[:, present]
    out = rec.mean(axis=1)  # nan propagates when a present class lost all its weight
    return out


def _calibration_bins(s: np.ndarray, n_bins: int) -> np.ndarray:
    return np.minimum((s * n_bins).astype(np.int64), n_bins - 1)


def _ece_w(y: np.ndarray, s: np.ndarray, W: np.ndarray, n_bins: int = N_CALIBRATION_BINS) -> np.ndarray:
    onehot = np.zeros((s.size, n_bins))
    onehot[np.arange(s.size), _calibration_bins(s, n_bins)] = 1.0
    gap = W @ (onehot * (y.astype(np.float64) - s)[:, None])
    return _div(np.abs(gap).sum(axis=1), W.sum(axis=1))


def _brier_w(y: np.ndarray, s: np.ndarray, W: np.ndarray) -> np.ndarray:
    return _div(W @ (s - y.astype(np.float64)) ** 2, W.sum(axis=1))


def _ones(n: int) -> np.ndarray:
    return np.ones((1, n))


def _as_binary(y: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    yb = np.asarray(y).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if yb.shape != s.shape:
        raise ValueError(f"y has {yb.size} entries, scores {s.size}")
    if yb.dtype != bool:
        if not np.all(np.isin(yb, (0, 1))):
            raise ValueError("y must be boolean or 0/1")
        yb = yb.astype(bool)
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite")
    return yb, s


# --------------------------------------------------------------------------------------------
# Public metric functions (pure; nan when undefined)
# --------------------------------------------------------------------------------------------


def malignancy_auc(y: Any, scores: Any) -> float:
    """ROC AUC of ``scores`` for the binary truth ``y`` (ties count 1/2); nan with one class."""
    yb, s = _as_binary(y, scores)
    return float(auc_weighted(yb, s, _ones(yb.size))[0])


def balanced_accuracy(y_true: Any, probs_or_pred: Any, n_classes: int | None = None) -> float:
    """Mean per-class recall over the classes present in ``y_true`` (scikit-learn's definition).

    ``probs_or_pred`` is ``N x K`` probabilities (prediction = argmax, ties to the lowest index)
    or ``N`` predicted class indices. nan on empty data.
    """
    y = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.asarray(probs_or_pred)
    if p.ndim == 2:
        k = p.shape[1] if n_classes is None else n_classes
        pred = np.argmax(p, axis=1) if p.shape[0] else np.zeros(0, dtype=np.int64)
    else:
        pred = p.astype(np.int64).reshape(-1)
        k = n_classes if n_classes is not None else int(max(y.max(initial=-1), pred.max(initial=-1)) + 1)
    if pred.shape != y.shape:
        raise ValueError(f"y_true has {y.size} entries, predictions {pred.size}")
    if y.size == 0:
        return float("nan")
    return float(_balanced_accuracy_w(y, pred, k, _ones(y.size))[0])


def per_class_recall(y_true: Any, probs: Any) -> np.ndarray:
    """Recall of each class (argmax prediction); nan for a class without samples."""
    y = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.asarray(probs, dtype=np.float64)
    pred = np.argmax(p, axis=1) if y.size else np.zeros(0, dtype=np.int64)
    return _recalls_w(y, pred, p.shape[1], _ones(y.size))[0]


def sensitivity_specificity(y: Any, scores: Any, threshold: float) -> tuple[float, float]:
    """``(sensitivity, specificity)`` with positive iff ``score >= threshold``; nan if undefined."""
    yb, s = _as_binary(y, scores)
    W = _ones(yb.size)
    return float(_sens_w(yb, s, threshold, W)[0]), float(_spec_w(yb, s, threshold, W)[0])


def choose_threshold_for_sensitivity(y: Any, scores: Any, target: float = 0.95) -> float:
    """The largest threshold ``t`` with ``sensitivity(t) >= target`` (positive iff score >= t).

    Sensitivity only changes at the scores of positives, so ``t`` is a positive's score: the
    ``k``-th largest, ``k`` the smallest count with ``k / n_pos >= target`` (the same float
    comparison :func:`sensitivity_specificity` implies). Tied scores are flagged together, so
    the sensitivity reached may exceed the target. Deterministic; raises ``ValueError`` without
    positives or with ``target`` outside ``(0, 1]``.
    """
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target must lie in (0, 1], got {target}")
    yb, s = _as_binary(y, scores)
    pos = np.sort(s[yb])[::-1]
    if pos.size == 0:
        raise ValueError("no positives: cannot choose a threshold for sensitivity")
    counts = np.arange(1, pos.size + 1)
    k = int(np.flatnonzero(counts / pos.size >= target)[0]) + 1
    return float(pos[k - 1])


def choose_thresholds(
    preds: Predictions, *, urgent_target: float = 0.95, priority_target: float = 0.99
) -> dict[str, float]:
    """The proposed operating points, from VALIDATION predictions (see the module docstring)."""
    if priority_target < urgent_target:
        raise ValueError("priority_target must be >= urgent_target")
    y, s = preds.y_malignant, preds.malignancy
    urgent = choose_threshold_for_sensitivity(y, s, urgent_target)
    priority = min(choose_threshold_for_sensitivity(y, s, priority_target), urgent)
    return {"urgent": urgent, "priority": priority}


def expected_calibration_error(y: Any, scores: Any, n_bins: int = N_CALIBRATION_BINS) -> float:
    """Binary ECE: ``sum_b n_b / N * |mean(y_b) - mean(score_b)|`` over equal-width bins.

    Bin ``b`` is ``[b / n_bins, (b + 1) / n_bins)``, the last one closed at 1. nan on empty data.
    """
    yb, s = _as_binary(y, scores)
    return float(_ece_w(yb, s, _ones(yb.size), n_bins)[0])


def brier(y: Any, scores: Any) -> float:
    """Mean squared difference between ``scores`` and the 0/1 truth; nan on empty data."""
    yb, s = _as_binary(y, scores)
    return float(_brier_w(yb, s, _ones(yb.size))[0])


def calibration_table(y: Any, scores: Any, n_bins: int = N_CALIBRATION_BINS) -> dict[str, np.ndarray]:
    """Per bin: ``count``, ``mean_score``, ``frac_positive`` (nan in empty bins), ``low``/``high`` edges."""
    yb, s = _as_binary(y, scores)
    b = _calibration_bins(s, n_bins)
    count = np.bincount(b, minlength=n_bins).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return {
        "low": edges[:-1],
        "high": edges[1:],
        "count": count.astype(np.int64),
        "mean_score": _div(np.bincount(b, weights=s, minlength=n_bins), count),
        "frac_positive": _div(np.bincount(b, weights=yb.astype(np.float64), minlength=n_bins), count),
    }


def confusion_matrix(y_true: Any, probs: Any, n_classes: int | None = None) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class (argmax)."""
    y = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.asarray(probs, dtype=np.float64)
    k = p.shape[1] if n_classes is None else n_classes
    pred = np.argmax(p, axis=1) if y.size else np.zeros(0, dtype=np.int64)
    return np.bincount(y * k + pred, minlength=k * k).reshape(k, k)


# --------------------------------------------------------------------------------------------
# Metrics on Predictions (vectorizable over resamples)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """A metric of :class:`Predictions` that also evaluates under resampling weights.

    ``batch(preds, W)`` takes ``W`` of shape ``(B, len(preds))`` (photo multiplicities, one row
    per resample) and returns ``(B,)`` values, nan where undefined. ``metric(preds)`` is the
    value on the data as is.
    """

    name: str
    batch: Callable[[Predictions, np.ndarray], np.ndarray]

    def __call__(self, preds: Predictions) -> float:
        return float(self.batch(preds, _ones(len(preds)))[0])


MALIGNANCY_AUC = Metric("malignancy_auc", lambda p, W: auc_weighted(p.y_malignant, p.malignancy, W))
BALANCED_ACCURACY = Metric(
    "balanced_accuracy", lambda p, W: _balanced_accuracy_w(p.y_true, p.y_pred, len(p.labels), W)
)
MALIGNANCY_ECE = Metric("malignancy_ece", lambda p, W: _ece_w(p.y_malignant, p.malignancy, W))
MALIGNANCY_BRIER = Metric("malignancy_brier", lambda p, W: _brier_w(p.y_malignant, p.malignancy, W))


def sensitivity_at(threshold: float, name: str | None = None) -> Metric:
    return Metric(
        name or f"sensitivity_at_{threshold:g}",
        lambda p, W: _sens_w(p.y_malignant, p.malignancy, threshold, W),
    )


def specificity_at(threshold: float, name: str | None = None) -> Metric:
    return Metric(
        name or f"specificity_at_{threshold:g}",
        lambda p, W: _spec_w(p.y_malignant, p.malignancy, threshold, W),
    )


def flagged_rate_at(threshold: float, name: str | None = None) -> Metric:
    """Fraction of photos with ``malignancy >= threshold`` (the workload of a tier and above)."""
    return Metric(name or f"flagged_rate_at_{threshold:g}", lambda p, W: _rate_w(p.malignancy, threshold, W))


def recall_of(label: str) -> Metric:
    def batch(p: Predictions, W: np.ndarray) -> np.ndarray:
        k = p.labels.index(label)
        return _recalls_w(p.y_true, p.y_pred, len(p.labels), W)[:, k]

    return Metric(f"recall_{label}", batch)

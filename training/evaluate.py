"""Evaluation of the diagnosis / malignancy model: metrics, patient-cluster bootstrap, reports.

Pure numpy (scikit-learn is not needed here; the tests cross-check against it). No torch, no
mlflow, no matplotlib (plots live in :mod:`training.plots`).

Predictions
    :class:`Predictions` holds, per photo, the true class, the six-class probabilities, the
    malignancy probability, the patient and optional subgroup attributes. It is saved as a
    deterministic CSV (:meth:`Predictions.to_csv`, :meth:`Predictions.from_csv`).

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

Bootstrap (:func:`bootstrap_ci`, :func:`bootstrap_many`)
    Cluster bootstrap by patient (default): each resample draws ``n_patients`` patients with
    replacement and takes all photos of every drawn patient (a patient drawn twice counts
    twice). Implemented as integer weights per photo, so all metrics are vectorized over the
    resamples and every metric of one :func:`evaluate` call uses the same resamples. Resamples
    where a metric is undefined are skipped for that metric; :class:`Interval` reports how many
    were used. Intervals are percentile intervals; the point estimate is the metric on the full
    data. Deterministic for ``(seed, n, set of patients)``: clusters are taken in sorted id order,
    so the row order of the predictions does not matter.

    Balanced accuracy in a resample averages the recalls of the classes present in the full
    data; a resample that lost one of those classes is skipped (so the interval is about the
    same quantity as the point estimate). A percentile interval of a proportion that is 1.0 on
    the data is [1, 1]; subgroup tables therefore give Wilson intervals instead (photos taken as
    independent -- optimistic when patients have several photos).

Comparison (:func:`compare`)
    A candidate is *no worse* than the champion, evaluated on the same data (same
    :attr:`EvaluationReport.data_fingerprint`), iff both hold on the point estimates:

    * ``candidate.malignancy_auc >= champion.malignancy_auc - auc_tolerance`` (default 0.005);
    * ``candidate.sensitivity_urgent >= champion.sensitivity_urgent -
      sensitivity_tolerance`` (default 0.0: each model at its own validation-chosen urgent
      threshold; on the 187-photo test split 0.0 means "misses no more malignant photos").

    Optionally (``specificity_tolerance`` not None) also specificity at urgent. Any of these
    values being nan, or the data differing, makes the candidate not "no worse". A 1e-12 slack
    absorbs float rounding.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

#: The six classes of the model, in output order (mirrors ``data_pipelines.manifest.DIAGNOSES``).
LABELS: tuple[str, ...] = ("ACK", "BCC", "MEL", "NEV", "SCC", "SEK")
#: Malignant classes: ``malignant = diagnosis in MALIGNANT_LABELS``.
MALIGNANT_LABELS: tuple[str, ...] = ("BCC", "MEL", "SCC")
#: Value a missing subgroup attribute gets.
MISSING_GROUP = "unknown"
#: Bins of the reliability diagram and the ECE (equal width on [0, 1]).
N_CALIBRATION_BINS = 10
#: Subgroup rows with fewer malignant or fewer benign photos than this are marked "low n".
LOW_N = 10

DEFAULT_AUC_TOLERANCE = 0.005
DEFAULT_SENSITIVITY_TOLERANCE = 0.0
_SLACK = 1e-12
#: Probabilities up to this far outside [0, 1] (float32 rounding) are clipped, not rejected.
_PROB_TOLERANCE = 1e-5
_Z95 = 1.959963984540054

# CSV column names.
_COL_IMAGE = "image_id"
_COL_PATIENT = "patient_id"
_COL_DIAGNOSIS = "diagnosis"
_COL_MALIGNANT = "malignant"
_COL_MALIGNANCY = "malignancy"
_PROB_PREFIX = "p_"
_GROUP_PREFIX = "group_"


# --------------------------------------------------------------------------------------------
# Predictions
# --------------------------------------------------------------------------------------------


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class Predictions:
    """Per-photo model outputs and ground truth.

    ``y_true`` is the index of the true class in ``labels`` (label strings are accepted and
    converted). ``probs`` is ``N x len(labels)``; ``malignancy`` is ``P(BCC|SCC|MEL)`` from the
    model (a separate head or the sum of the class probabilities -- not checked); values within
    1e-5 outside [0, 1] (float32 rounding) are clipped, further out rejected. ``groups``
    maps an attribute name (``"fitzpatrick"``, ``"body_site"``) to one string per photo; ``None``
    or ``""`` becomes :data:`MISSING_GROUP`. Arrays are stored as read-only copies. Equality
    compares contents.
    """

    image_ids: tuple[str, ...]
    patient_ids: tuple[str, ...]
    y_true: np.ndarray
    probs: np.ndarray
    malignancy: np.ndarray
    labels: tuple[str, ...] = LABELS
    malignant_labels: tuple[str, ...] = MALIGNANT_LABELS
    groups: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        image_ids = tuple(str(i) for i in self.image_ids)
        patient_ids = tuple(str(p) for p in self.patient_ids)
        labels = tuple(str(v) for v in self.labels)
        n = len(image_ids)
        if len(set(labels)) != len(labels) or not labels:
            raise ValueError(f"labels must be non-empty and unique: {labels}")
        malignant_labels = tuple(str(v) for v in self.malignant_labels)
        if not set(malignant_labels) <= set(labels):
            raise ValueError(f"malignant_labels {malignant_labels} not all in labels {labels}")
        if len(set(image_ids)) != n:
            raise ValueError("image_ids must be unique")
        if len(patient_ids) != n:
            raise ValueError(f"{len(patient_ids)} patient_ids for {n} images")

        y = np.asarray(self.y_true)
        if y.dtype.kind in "USO":
            index = {lab: i for i, lab in enumerate(labels)}
            unknown = sorted({str(v) for v in y.tolist()} - set(index))
            if unknown:
                raise ValueError(f"y_true has labels outside {labels}: {unknown}")
            y = np.array([index[str(v)] for v in y.tolist()], dtype=np.int64)
        elif y.dtype.kind == "f" and y.size and not np.all(y == np.round(y)):
            raise ValueError("y_true must hold class indices")
        y = y.astype(np.int64).reshape(-1)
        if y.shape != (n,):
            raise ValueError(f"y_true has {y.shape[0]} entries for {n} images")
        if n and (y.min() < 0 or y.max() >= len(labels)):
            raise ValueError(f"y_true indices must lie in [0, {len(labels)})")

        probs = np.asarray(self.probs, dtype=np.float64)
        if probs.size == 0:
            probs = probs.reshape(n, len(labels))
        if probs.shape != (n, len(labels)):
            raise ValueError(f"probs has shape {probs.shape}, expected {(n, len(labels))}")
        mal = np.asarray(self.malignancy, dtype=np.float64).reshape(-1)
        if mal.shape != (n,):
            raise ValueError(f"malignancy has {mal.shape[0]} entries for {n} images")
        if not (np.all(np.isfinite(probs)) and np.all(np.isfinite(mal))):
            raise ValueError("probs and malignancy must be finite")
        tol = _PROB_TOLERANCE
        if np.any(mal < -tol) or np.any(mal > 1 + tol) or np.any(probs < -tol) or np.any(probs > 1 + tol):
            raise ValueError("probabilities must lie in [0, 1]")
        # float32 rounding (a sum of softmax outputs may be 1.0000001): clip into [0, 1]
        probs, mal = np.clip(probs, 0.0, 1.0), np.clip(mal, 0.0, 1.0)

        groups: dict[str, np.ndarray] = {}
        for key, values in dict(self.groups).items():
            key = str(key)
            if not key:
                raise ValueError("group names must be non-empty")
            vals = [MISSING_GROUP if v is None or str(v) == "" else str(v) for v in list(values)]
            if len(vals) != n:
                raise ValueError(f"group {key!r} has {len(vals)} values for {n} images")
            groups[key] = _readonly(np.array(vals, dtype=str) if vals else np.array([], dtype=str))

        set_ = object.__setattr__
        set_(self, "image_ids", image_ids)
        set_(self, "patient_ids", patient_ids)
        set_(self, "labels", labels)
        set_(self, "malignant_labels", malignant_labels)
        set_(self, "y_true", _readonly(y))
        set_(self, "probs", _readonly(probs))
        set_(self, "malignancy", _readonly(mal))
        set_(self, "groups", groups)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Predictions):
            return NotImplemented
        return (
            self.image_ids == other.image_ids
            and self.patient_ids == other.patient_ids
            and self.labels == other.labels
            and self.malignant_labels == other.malignant_labels
            and np.array_equal(self.y_true, other.y_true)
            and np.array_equal(self.probs, other.probs)
            and np.array_equal(self.malignancy, other.malignancy)
            and self.groups.keys() == other.groups.keys()
            and all(np.array_equal(self.groups[k], other.groups[k]) for k in self.groups)
        )

    def __len__(self) -> int:
        return len(self.image_ids)

    @property
    def y_malignant(self) -> np.ndarray:
        """Boolean per photo: the true class is one of ``malignant_labels``."""
        mal_idx = [self.labels.index(m) for m in self.malignant_labels]
        return np.isin(self.y_true, mal_idx)

    @property
    def y_pred(self) -> np.ndarray:
        """Predicted class index per photo: ``argmax(probs)`` (ties: the first label)."""
        if len(self) == 0:
            return np.zeros(0, dtype=np.int64)
        return np.argmax(self.probs, axis=1)

    @property
    def n_patients(self) -> int:
        return len(set(self.patient_ids))

    def take(self, indices: Sequence[int] | np.ndarray) -> Predictions:
        """The photos at ``indices`` (distinct indices; a boolean mask is accepted too)."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64)
        return Predictions(
            image_ids=tuple(self.image_ids[i] for i in idx),
            patient_ids=tuple(self.patient_ids[i] for i in idx),
            y_true=self.y_true[idx],
            probs=self.probs[idx],
            malignancy=self.malignancy[idx],
            labels=self.labels,
            malignant_labels=self.malignant_labels,
            groups={k: v[idx] for k, v in self.groups.items()},
        )

    # ---- CSV ------------------------------------------------------------------------------

    def to_csv_text(self) -> str:
        """The canonical CSV: one row per photo in stored order, ``\\n`` line endings.

        Columns: ``image_id, patient_id, diagnosis, malignant, p_<label>... , malignancy,
        group_<key>...`` (groups in sorted key order). Floats are written with ``repr`` (shortest
        exact round trip), booleans as ``true`` / ``false``. Same predictions -> same bytes.
        """
        keys = sorted(self.groups)
        header = [_COL_IMAGE, _COL_PATIENT, _COL_DIAGNOSIS, _COL_MALIGNANT]
        header += [_PROB_PREFIX + lab for lab in self.labels]
        header += [_COL_MALIGNANCY] + [_GROUP_PREFIX + k for k in keys]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        y_mal = self.y_malignant
        for i in range(len(self)):
            row = [self.image_ids[i], self.patient_ids[i], self.labels[self.y_true[i]]]
            row.append("true" if y_mal[i] else "false")
            row += [repr(float(p)) for p in self.probs[i]]
            row.append(repr(float(self.malignancy[i])))
            row += [str(self.groups[k][i]) for k in keys]
            w.writerow(row)
        return buf.getvalue()

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_csv_text` to ``path`` (atomically: temp file + rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                f.write(self.to_csv_text())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def from_csv(
        cls, path: str | os.PathLike[str], *, malignant_labels: Sequence[str] | None = None
    ) -> Predictions:
        """Read a CSV written by :meth:`to_csv`.

        ``labels`` come from the ``p_<label>`` columns in order. ``malignant_labels`` defaults to
        :data:`MALIGNANT_LABELS` (those among ``labels``); the ``malignant`` column must agree
        with it, else ``ValueError``.
        """
        with open(path, encoding="utf-8", newline="") as f:
            return cls.from_csv_text(f.read(), malignant_labels=malignant_labels)

    @classmethod
    def from_csv_text(cls, text: str, *, malignant_labels: Sequence[str] | None = None) -> Predictions:
        reader = csv.reader(io.StringIO(text))
        try:
            header = next(reader)
        except StopIteration:
            raise ValueError("empty predictions CSV") from None
        fixed = [_COL_IMAGE, _COL_PATIENT, _COL_DIAGNOSIS, _COL_MALIGNANT]
        if header[:4] != fixed or _COL_MALIGNANCY not in header:
            raise ValueError(f"not a predictions CSV: header {header}")
        m = header.index(_COL_MALIGNANCY)
        prob_cols = header[4:m]
        if not prob_cols or not all(c.startswith(_PROB_PREFIX) for c in prob_cols):
            raise ValueError(f"expected p_<label> columns between malignant and malignancy: {header}")
        labels = tuple(c[len(_PROB_PREFIX) :] for c in prob_cols)
        group_cols = header[m + 1 :]
        if not all(c.startswith(_GROUP_PREFIX) for c in group_cols):
            raise ValueError(f"unexpected columns after malignancy: {group_cols}")
        if malignant_labels is None:
            malignant_labels = tuple(lab for lab in MALIGNANT_LABELS if lab in labels)
        rows = list(reader)
        for r in rows:
            if len(r) != len(header):
                raise ValueError(f"row has {len(r)} cells, header {len(header)}: {r}")
        n, k = len(rows), len(labels)
        preds = cls(
            image_ids=tuple(r[0] for r in rows),
            patient_ids=tuple(r[1] for r in rows),
            y_true=np.array([r[2] for r in rows], dtype=str),
            probs=np.array([[float(c) for c in r[4:m]] for r in rows], dtype=np.float64).reshape(n, k),
            malignancy=np.array([float(r[m]) for r in rows], dtype=np.float64),
            labels=labels,
            malignant_labels=tuple(malignant_labels),
            groups={c[len(_GROUP_PREFIX) :]: [r[j] for r in rows] for j, c in enumerate(header) if j > m},
        )
        flags = [r[3] for r in rows]
        if any(f not in ("true", "false") for f in flags):
            raise ValueError("malignant column must be true/false")
        if not np.array_equal(np.array([f == "true" for f in flags], dtype=bool), preds.y_malignant):
            raise ValueError(f"malignant column contradicts malignant_labels {preds.malignant_labels}")
        return preds

    def fingerprint(self) -> str:
        """sha256 of the sorted ``(image_id, patient_id, true label)`` triples: "same data"."""
        h = hashlib.sha256()
        for img, pat, y in sorted(zip(self.image_ids, self.patient_ids, self.y_true.tolist(), strict=True)):
            h.update(f"{img}\t{pat}\t{self.labels[y]}\n".encode())
        return h.hexdigest()


# --------------------------------------------------------------------------------------------
# Weighted metric kernels: W is (B, N) non-negative weights (one row per resample), result (B,)
# --------------------------------------------------------------------------------------------


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _auc_w(y: np.ndarray, s: np.ndarray, W: np.ndarray) -> np.ndarray:
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


def _sens_w(y: np.ndarray, s: np.ndarray, t: float, W: np.ndarray) -> np.ndarray:
    return _div(W @ (y & (s >= t)).astype(np.float64), W @ y.astype(np.float64))


def _spec_w(y: np.ndarray, s: np.ndarray, t: float, W: np.ndarray) -> np.ndarray:
    return _div(W @ (~y & (s < t)).astype(np.float64), W @ (~y).astype(np.float64))


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
    return float(_auc_w(yb, s, _ones(yb.size))[0])


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


def wilson_interval(successes: int, n: int, z: float = _Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion; ``(nan, nan)`` when ``n == 0``."""
    if n <= 0:
        return float("nan"), float("nan")
    p = successes / n
    den = 1 + z * z / n
    center = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    low = 0.0 if successes <= 0 else max(0.0, center - half)
    high = 1.0 if successes >= n else min(1.0, center + half)
    return low, high


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


MALIGNANCY_AUC = Metric("malignancy_auc", lambda p, W: _auc_w(p.y_malignant, p.malignancy, W))
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


# --------------------------------------------------------------------------------------------
# Bootstrap
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap interval. Unpacks as ``point, low, high``.

    ``n_used`` of ``n_boot`` resamples had the metric defined (nan bounds when none).
    """

    point: float
    low: float
    high: float
    n_used: int = 0
    n_boot: int = 0

    def __iter__(self) -> Iterator[float]:
        return iter((self.point, self.low, self.high))

    def contains(self, value: float) -> bool:
        return bool(self.low - _SLACK <= value <= self.high + _SLACK)


def _clusters(preds: Predictions, by: str) -> tuple[int, np.ndarray]:
    """``(n_clusters, cluster index per photo)``; clusters in sorted id order."""
    if by == "patient":
        ids = preds.patient_ids
    elif by == "image":
        ids = preds.image_ids
    else:
        raise ValueError(f"by must be 'patient' or 'image', got {by!r}")
    uniq, inverse = np.unique(np.asarray(ids, dtype=str), return_inverse=True)
    return len(uniq), inverse.reshape(-1)


def resample_counts(n_clusters: int, n: int, seed: int) -> np.ndarray:
    """``(n, n_clusters)`` draw counts: each row draws ``n_clusters`` clusters with replacement."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_clusters, size=(n, n_clusters))
    offsets = (np.arange(n) * n_clusters)[:, None]
    return np.bincount((draws + offsets).ravel(), minlength=n * n_clusters).reshape(n, n_clusters)


def resample_weights(preds: Predictions, *, n: int = 2000, seed: int = 0, by: str = "patient") -> np.ndarray:
    """``(n, len(preds))`` photo multiplicities of the cluster bootstrap (see module docstring)."""
    n_clusters, cluster = _clusters(preds, by)
    if n_clusters == 0:
        return np.zeros((n, 0))
    return resample_counts(n_clusters, n, seed)[:, cluster].astype(np.float64)


def _percentile(values: np.ndarray, point: float, alpha: float, n_boot: int) -> Interval:
    ok = values[~np.isnan(values)]
    if math.isnan(point) or ok.size == 0:
        return Interval(point, float("nan"), float("nan"), int(ok.size), n_boot)
    low, high = np.quantile(ok, [alpha / 2, 1 - alpha / 2])
    return Interval(float(point), float(low), float(high), int(ok.size), n_boot)


def bootstrap_many(
    metrics: Mapping[str, Metric],
    preds: Predictions,
    *,
    n: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
    by: str = "patient",
) -> dict[str, Interval]:
    """Percentile intervals of several metrics over the SAME resamples (vectorized, chunked)."""
    if n < 1:
        raise ValueError("n must be >= 1")
    if not 0 < alpha < 1:
        raise ValueError("alpha must lie in (0, 1)")
    n_clusters, cluster = _clusters(preds, by)
    counts = resample_counts(max(n_clusters, 1), n, seed)
    chunk = max(1, min(n, 1_000_000 // max(len(preds), 1)))
    values = {name: np.empty(n) for name in metrics}
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        W = counts[start:stop][:, cluster].astype(np.float64)
        for name, metric in metrics.items():
            values[name][start:stop] = metric.batch(preds, W)
    return {name: _percentile(values[name], metric(preds), alpha, n) for name, metric in metrics.items()}


def bootstrap_ci(
    metric_fn: Metric | Callable[[Predictions], float],
    preds: Predictions,
    *,
    n: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
    by: str = "patient",
) -> Interval:
    """Point estimate and ``1 - alpha`` percentile interval; unpacks as ``(point, low, high)``.

    ``metric_fn`` is a :class:`Metric` (vectorized) or any ``Predictions -> float`` returning nan
    when undefined (evaluated once per resample on materialized resamples: slower, same draws;
    a photo drawn ``c`` times appears as ``c`` copies with ids suffixed ``#1..#c``, its patient
    likewise, so a twice-drawn patient counts as two patients).
    """
    if isinstance(metric_fn, Metric):
        return bootstrap_many({metric_fn.name: metric_fn}, preds, n=n, seed=seed, alpha=alpha, by=by)[
            metric_fn.name
        ]
    if n < 1:
        raise ValueError("n must be >= 1")
    n_clusters, cluster = _clusters(preds, by)
    counts = resample_counts(max(n_clusters, 1), n, seed)
    values = np.empty(n)
    for b in range(n):
        mult = counts[b][cluster]
        idx = np.repeat(np.arange(len(preds)), mult)
        copy = np.concatenate([np.arange(1, c + 1) for c in mult]) if idx.size else np.zeros(0, int)
        sub = Predictions(
            image_ids=tuple(f"{preds.image_ids[i]}#{c}" for i, c in zip(idx, copy, strict=True)),
            patient_ids=tuple(f"{preds.patient_ids[i]}#{c}" for i, c in zip(idx, copy, strict=True)),
            y_true=preds.y_true[idx],
            probs=preds.probs[idx],
            malignancy=preds.malignancy[idx],
            labels=preds.labels,
            malignant_labels=preds.malignant_labels,
            groups={k: v[idx] for k, v in preds.groups.items()},
        )
        values[b] = float(metric_fn(sub))
    return _percentile(values, float(metric_fn(preds)), alpha, n)


# --------------------------------------------------------------------------------------------
# Subgroups
# --------------------------------------------------------------------------------------------


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
        d = {k: _jsonable(v) for k, v in self.__dict__.items()}
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


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

_METRIC_TITLES = {
    "malignancy_auc": "Malignancy ROC AUC",
    "balanced_accuracy": "Balanced accuracy (6-class, argmax)",
    "malignancy_ece": f"Malignancy ECE ({N_CALIBRATION_BINS} bins)",
    "malignancy_brier": "Malignancy Brier score",
}


def _metric_title(name: str) -> str:
    if name in _METRIC_TITLES:
        return _METRIC_TITLES[name]
    for prefix, title in (
        ("sensitivity_", "Sensitivity at {}"),
        ("specificity_", "Specificity at {}"),
        ("flagged_rate_", "Flagged fraction at {} (or above)"),
        ("recall_", "Recall {}"),
    ):
        if name.startswith(prefix):
            return title.format(name[len(prefix) :].removeprefix("at_"))
    return name


def _jsonable(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        return None if math.isnan(v) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


def _fmt(v: float, digits: int = 3) -> str:
    return "n/a" if v is None or math.isnan(v) else f"{v:.{digits}f}"


def _nan(v: Any) -> float:
    return float("nan") if v is None else float(v)


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
            out[f"{p}{name}"] = _jsonable(iv.point)
            out[f"{p}{name}_ci_low"] = _jsonable(iv.low)
            out[f"{p}{name}_ci_high"] = _jsonable(iv.high)
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
                _nan(d.get(f"{p}{name}")),
                _nan(d.get(f"{p}{name}_ci_low")),
                _nan(d.get(f"{p}{name}_ci_high")),
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
            ci = "n/a" if math.isnan(iv.low) else f"{_fmt(iv.low)} – {_fmt(iv.high)}"
            lines.append(f"| {_metric_title(name)} | {_fmt(iv.point)} | {ci} | {iv.n_used}/{iv.n_boot} |")

        if self.confusion:
            lines += ["", "Confusion matrix (rows: true class, columns: predicted class, counts):", ""]
            lines.append("| true \\ pred | " + " | ".join(self.labels) + " | recall |")
            lines.append("|---|" + "---:|" * (len(self.labels) + 1))
            for lab, row in zip(self.labels, self.confusion, strict=True):
                total = sum(row)
                i = self.labels.index(lab)
                rec = _fmt(row[i] / total) if total else "n/a"
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
                sens = f"{_fmt(r.sensitivity)} ({_fmt(r.sensitivity_low, 2)}–{_fmt(r.sensitivity_high, 2)})"
                spec = f"{_fmt(r.specificity)} ({_fmt(r.specificity_low, 2)}–{_fmt(r.specificity_high, 2)})"
                if math.isnan(r.sensitivity):
                    sens = "n/a"
                if math.isnan(r.specificity):
                    spec = "n/a"
                lines.append(
                    f"| {r.value}{mark} | {r.n} | {r.n_patients} | {r.n_malignant} | {_fmt(r.auc)} | "
                    f"{sens} | {spec} | {_fmt(r.balanced_accuracy)} |"
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


# --------------------------------------------------------------------------------------------
# Champion / candidate
# --------------------------------------------------------------------------------------------


class ComparisonRow(NamedTuple):
    metric: str
    candidate: float
    champion: float
    delta: float  # candidate - champion


@dataclass(frozen=True)
class Comparison:
    no_worse: bool
    rows: tuple[ComparisonRow, ...]
    reasons: tuple[str, ...]

    def to_markdown(self) -> str:
        lines = ["| Metric | Candidate | Champion | Δ |", "|---|---:|---:|---:|"]
        for r in self.rows:
            delta = "n/a" if math.isnan(r.delta) else f"{r.delta:+.3f}"
            lines.append(
                f"| {_metric_title(r.metric)} | {_fmt(r.candidate)} | {_fmt(r.champion)} | {delta} |"
            )
        verdict = "NO WORSE" if self.no_worse else "WORSE (or not comparable)"
        return "\n".join(lines) + f"\n\nVerdict: {verdict}\n" + "".join(f"- {r}\n" for r in self.reasons)


_COMPARED = (
    "malignancy_auc",
    "sensitivity_urgent",
    "specificity_urgent",
    "sensitivity_priority",
    "specificity_priority",
    "flagged_rate_urgent",
    "balanced_accuracy",
    "malignancy_ece",
    "malignancy_brier",
)


def compare(
    candidate: EvaluationReport,
    champion: EvaluationReport,
    *,
    auc_tolerance: float = DEFAULT_AUC_TOLERANCE,
    sensitivity_tolerance: float = DEFAULT_SENSITIVITY_TOLERANCE,
    specificity_tolerance: float | None = None,
) -> Comparison:
    """Is ``candidate`` no worse than ``champion``? Rule in the module docstring."""
    rows = tuple(
        ComparisonRow(m, candidate.value(m), champion.value(m), candidate.value(m) - champion.value(m))
        for m in _COMPARED
        if m in candidate.metrics or m in champion.metrics
    )
    reasons: list[str] = []
    ok = True
    fa, fb = candidate.data_fingerprint, champion.data_fingerprint
    if fa and fb and fa != fb:
        ok = False
        reasons.append("not comparable: the reports were computed on different data (fingerprints differ)")
    elif not (fa and fb):
        reasons.append("warning: a report has no data fingerprint; same test data assumed")

    criteria = [("malignancy_auc", auc_tolerance), ("sensitivity_urgent", sensitivity_tolerance)]
    if specificity_tolerance is not None:
        criteria.append(("specificity_urgent", specificity_tolerance))
    for metric, tol in criteria:
        cand, champ = candidate.value(metric), champion.value(metric)
        if math.isnan(cand) or math.isnan(champ):
            ok = False
            reasons.append(f"{metric}: undefined (candidate {_fmt(cand)}, champion {_fmt(champ)})")
            continue
        passed = cand >= champ - tol - _SLACK
        ok = ok and passed
        verdict = "ok" if passed else "WORSE"
        reasons.append(
            f"{metric}: candidate {cand:.4f} vs champion {champ:.4f} - tolerance {tol:g} "
            f"(delta {cand - champ:+.4f}): {verdict}"
        )
    return Comparison(no_worse=ok, rows=rows, reasons=tuple(reasons))

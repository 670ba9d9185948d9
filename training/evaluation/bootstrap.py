"""Patient-cluster bootstrap: resampling weights, percentile intervals, :func:`bootstrap_many`,
:func:`bootstrap_ci`.

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

:func:`resampled` is the loop underneath, for any batch function of the weights (the quality
evaluation uses it on its own figures).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from training.evaluation.metrics import SLACK, Metric
from training.evaluation.predictions import Predictions


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
        return bool(self.low - SLACK <= value <= self.high + SLACK)


def clusters_of(ids: Sequence[str] | np.ndarray) -> tuple[int, np.ndarray]:
    """``(n_clusters, cluster index per row)``; clusters in sorted id order."""
    uniq, inverse = np.unique(np.asarray(ids, dtype=str), return_inverse=True)
    return len(uniq), inverse.reshape(-1)


def _clusters(preds: Predictions, by: str) -> tuple[int, np.ndarray]:
    if by == "patient":
        return clusters_of(preds.patient_ids)
    if by == "image":
        return clusters_of(preds.image_ids)
    raise ValueError(f"by must be 'patient' or 'image', got {by!r}")


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


def percentile_interval(values: np.ndarray, point: float, alpha: float, n_boot: int) -> Interval:
    """The ``1 - alpha`` percentile interval of the defined (not nan) ``values`` around ``point``."""
    ok = values[~np.isnan(values)]
    if math.isnan(point) or ok.size == 0:
        return Interval(point, float("nan"), float("nan"), int(ok.size), n_boot)
    low, high = np.quantile(ok, [alpha / 2, 1 - alpha / 2])
    return Interval(float(point), float(low), float(high), int(ok.size), n_boot)


def resampled(
    batch: Callable[[np.ndarray], Mapping[str, np.ndarray]],
    n_clusters: int,
    cluster: np.ndarray,
    *,
    n: int,
    seed: int,
) -> dict[str, np.ndarray]:
    """Each named value of ``batch(W)`` over ``n`` cluster resamples (``W``: chunks of rows of
    multiplicities, as in :func:`resample_weights`); all values share the same resamples."""
    counts = resample_counts(max(n_clusters, 1), n, seed)
    chunk = max(1, min(n, 1_000_000 // max(len(cluster), 1)))
    values: dict[str, np.ndarray] = {}
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        W = counts[start:stop][:, cluster].astype(np.float64)
        for name, v in batch(W).items():
            values.setdefault(name, np.empty(n))[start:stop] = v
    return values


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
    values = resampled(
        lambda W: {name: metric.batch(preds, W) for name, metric in metrics.items()},
        n_clusters,
        cluster,
        n=n,
        seed=seed,
    )
    return {
        name: percentile_interval(values[name], metric(preds), alpha, n) for name, metric in metrics.items()
    }


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
        values[b] = float(metric_fn(preds.take(idx, copies=copy)))
    return percentile_interval(values, float(metric_fn(preds)), alpha, n)

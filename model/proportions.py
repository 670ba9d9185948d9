"""Confidence intervals of a proportion: one definition for the training reports (``training.evaluation``)
and the service's monitoring of its own patients (``serving.monitoring``). Pure Python, no numpy."""

from __future__ import annotations

import math

#: the two-sided 95 % normal quantile
Z95 = 1.959963984540054


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of ``k`` successes in ``n`` trials; ``(nan, nan)`` when ``n == 0``.

    The bounds are exact at the edges: 0 when ``k == 0``, 1 when ``k == n``."""
    if n <= 0:
        return float("nan"), float("nan")
    if not 0 <= k <= n:
        raise ValueError(f"successes must lie in 0..n, got {k} of {n}")
    p = k / n
    den = 1 + z * z / n
    center = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    low = 0.0 if k <= 0 else max(0.0, center - half)
    high = 1.0 if k >= n else min(1.0, center + half)
    return low, high

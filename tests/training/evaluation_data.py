"""Synthetic predictions for the evaluation tests, and the evaluation they share."""

from __future__ import annotations

import numpy as np

from training.evaluation.predictions import LABELS, Predictions
from training.evaluation.report import EvaluationReport, evaluate

MAL_IDX = [LABELS.index(m) for m in ("BCC", "MEL", "SCC")]


def make_preds(
    n: int = 190,
    n_patients: int = 146,
    seed: int = 0,
    signal: float = 1.5,
    patient_prefix: str = "p",
    groups: bool = True,
) -> Predictions:
    """Synthetic predictions with some signal; every class present; some patients with several photos."""
    rng = np.random.default_rng(seed)
    patient = np.sort(np.r_[np.arange(n_patients), rng.integers(0, n_patients, n - n_patients)])
    y = np.arange(n) % len(LABELS)
    rng.shuffle(y)
    logits = rng.normal(size=(n, len(LABELS)))
    logits[np.arange(n), y] += signal
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    g = {}
    if groups:
        g = {
            "fitzpatrick": rng.choice(
                ["1", "2", "3", "4", "5", "6", ""], n, p=[0.1, 0.3, 0.3, 0.15, 0.1, 0.02, 0.03]
            ),
            "body_site": rng.choice(["face", "arm", "back", "chest", "ear"], n),
        }
    return Predictions(
        image_ids=tuple(f"img{i:04d}" for i in range(n)),
        patient_ids=tuple(f"{patient_prefix}{p:03d}" for p in patient),
        y_true=y,
        probs=probs,
        malignancy=probs[:, MAL_IDX].sum(axis=1),
        groups=g,
    )


def binary_preds(y_mal: list[int], scores: list[float], patients: list[str] | None = None) -> Predictions:
    """Predictions from a binary truth (BCC vs NEV) and malignancy scores."""
    n = len(y_mal)
    y = np.where(np.asarray(y_mal, dtype=bool), LABELS.index("BCC"), LABELS.index("NEV"))
    probs = np.full((n, len(LABELS)), 0.1)
    probs[np.arange(n), y] = 0.5
    return Predictions(
        image_ids=tuple(f"i{i}" for i in range(n)),
        patient_ids=tuple(patients if patients is not None else (f"p{i}" for i in range(n))),
        y_true=y,
        probs=probs,
        malignancy=np.asarray(scores, dtype=float),
    )


def evaluated(preds: Predictions, n_boot: int = 200, prefix: str = "test_") -> EvaluationReport:
    return evaluate(preds, {"urgent": 0.5, "priority": 0.3}, n_boot=n_boot, seed=0, prefix=prefix)

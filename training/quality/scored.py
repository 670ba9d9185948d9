"""What the quality path said about each sample of an evaluation set, next to the truth (the input
of the quality evaluation and its plots)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from model.contract import ImageInput
from model.model_input import normalize
from model.quality_checks import Verdict
from model.quality_model import QualityModel
from model.quality_verdict import ModelReading, combine
from training.quality.data import Sample


@dataclass(frozen=True)
class Scored:
    """One row per sample: truth and what the service said."""

    patients: np.ndarray
    defect: np.ndarray  # applied defect or "clean"
    severity: np.ndarray
    retake: np.ndarray  # the service's verdict
    score: np.ndarray  # the service's retake score: 1 - quality score
    model: np.ndarray  # the model's P(retake)
    classical: np.ndarray  # the classical checks' retake score: 1 - their score
    defect_scores: np.ndarray  # N x D
    first: np.ndarray  # the first defect named ("" when accepted)
    defects: tuple[str, ...]


def model_inputs(samples: list[Sample], spec: ImageInput) -> np.ndarray:
    """N x 3 x S x S float32: each sample's image normalized as serving normalizes it."""
    return np.stack([normalize(s.image, spec) for s in samples])


def read_samples(
    samples: list[Sample],
    model: QualityModel,
    *,
    batch: int = 64,
    desc: str = "scoring",
    progress: bool = True,
) -> list[ModelReading]:
    """The model's reading of every sample (in batches, with a progress bar when ``progress``)."""
    spec = model.model.contract.image
    starts = range(0, len(samples), batch)
    return [
        r
        for i in tqdm(starts, desc=desc, unit="batch", leave=False, disable=not progress)
        for r in model.read_batch(model_inputs(samples[i : i + batch], spec))
    ]


def score(
    samples: list[Sample],
    model: QualityModel,
    *,
    readings: list[ModelReading] | None = None,
    progress: bool = True,
) -> Scored:
    """The service's verdict on every sample (``readings``: the model's, when already read)."""
    if readings is None:
        readings = read_samples(samples, model, progress=progress)
    verdicts = [
        combine(s.report, r, model.policy, original_size=s.size, modality=s.modality)
        for s, r in tqdm(
            zip(samples, readings, strict=True),
            total=len(samples),
            desc="verdicts",
            unit="image",
            leave=False,
            disable=not progress,
        )
    ]
    return Scored(
        patients=np.asarray([s.patient_id for s in samples]),
        defect=np.asarray([s.defect for s in samples]),
        severity=np.asarray([s.severity for s in samples]),
        retake=np.asarray([v.verdict is Verdict.retake for v in verdicts]),
        score=np.asarray([1.0 - v.score for v in verdicts]),
        model=np.asarray([r.retake for r in readings]),
        classical=np.asarray([1.0 - s.report.score for s in samples]),
        defect_scores=np.asarray([[r.defects[d] for d in model.defects] for r in readings]),
        first=np.asarray([v.defects[0] if v.defects else "" for v in verdicts]),
        defects=tuple(model.defects),
    )

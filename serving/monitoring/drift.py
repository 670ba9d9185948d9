"""Input drift: the service's cases against the training data's profile (``model.input_profile``;
the reference is ``model/artifacts/reference_profile.json``, written by ``dermatriage data profile``).

Expected bands (a figure outside its band has ``alert: true``):

* **A share** (a question's answer rate, a Fitzpatrick type's share, a modality's share): the
  reference share ``p0`` ± ``max(Z_ALERT * SE, MIN_TOLERANCE)`` with
  ``SE = sqrt(p0 (1 - p0) (1/n + 1/n_ref))`` (the service's ``n`` and the reference's ``n_ref``: both
  are samples), clipped to [0, 1]. ``Z_ALERT`` is 3 (about 3 in 1000 figures of an unchanged
  population leave their band by chance: there are some thirty figures), ``MIN_TOLERANCE`` 5
  percentage points (a smaller difference changes nothing clinically, and a reference share of 0 or 1
  has no sampling spread). A question the training data never answers has no band: the urgency model
  does not read it (its contract's ``reads``), so its answer rate cannot shift the model's input.
* **Photo size**: the median long side (pixels) of the submitted photos against the training photos'
  5th to 95th percentile.
* **Retakes**: the share of cases whose submission the quality gate sent back (a photo judged
  ``retake``). Its reference is the false-retake rate the bundled quality model's retake threshold
  was chosen for on untouched training photos (``model/artifacts/quality.json``,
  ``provenance.config.target_false_retake``), per photo; a case of ``k`` photos is expected sent back
  with probability ``1 - (1 - f)^k``, ``p0`` is the mean of that over the cases, and the band is
  ``p0 ± max(Z_ALERT * sqrt(p0 (1 - p0) / n), MIN_TOLERANCE)`` (the target is not a sample). A share
  above it means photos worse than the training photos, or a gate sending good photos back (the
  agreement with the dermatologists tells which).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from model import input_profile
from serving.monitoring.figures import CaseFacts

Z_ALERT = 3.0
MIN_TOLERANCE = 0.05


@dataclass(frozen=True)
class DriftFigure:
    group: str  # answer_rate | fitzpatrick | modality | photo_size | retake
    key: str
    label: str
    value: float | None  # the service's figure (None: no case or photo to measure)
    n: int  # how many cases or photos the figure is of
    reference: float | None
    low: float | None  # the expected band (None: no band, never an alert)
    high: float | None
    alert: bool
    unit: str = "share"  # share | pixels
    note: str | None = None


def share_band(p0: float, n: int, n_ref: int | None) -> tuple[float, float]:
    """The expected band of a share measured on ``n`` cases, reference ``p0`` measured on ``n_ref``
    (None: a target, not a sample)."""
    spread = 1 / max(n, 1) + (1 / n_ref if n_ref else 0.0)
    half = max(Z_ALERT * math.sqrt(p0 * (1 - p0) * spread), MIN_TOLERANCE)
    return max(0.0, p0 - half), min(1.0, p0 + half)


def _share_figure(
    group: str, key: str, label: str, value: float | None, n: int, p0: float | None, n_ref: int | None
) -> DriftFigure:
    if p0 is None or value is None:
        return DriftFigure(group, key, label, value, n, p0, None, None, False)
    low, high = share_band(p0, n, n_ref)
    return DriftFigure(group, key, label, value, n, p0, low, high, not low <= value <= high)


def answer_rates(cases: Sequence[CaseFacts], reference: Mapping[str, Any]) -> list[DriftFigure]:
    questionnaires = [c.questionnaire for c in cases]
    rates = input_profile.answer_rates(questionnaires)
    n_ref = reference["n_lesions"]
    figures = []
    for q in input_profile.QUESTIONS:
        p0 = reference["answer_rates"].get(q)
        label = q.replace("_", " ")
        if not p0:  # never answered in training: the model does not read it
            figures.append(
                DriftFigure(
                    "answer_rate",
                    q,
                    label,
                    rates[q],
                    len(cases),
                    p0,
                    None,
                    None,
                    False,
                    note="never answered in the training data; the urgency model does not read it",
                )
            )
            continue
        figures.append(_share_figure("answer_rate", q, label, rates[q], len(cases), p0, n_ref))
    return figures


def fitzpatrick(cases: Sequence[CaseFacts], reference: Mapping[str, Any]) -> list[DriftFigure]:
    shares, n = input_profile.fitzpatrick_mix([c.questionnaire for c in cases])
    ref = reference["fitzpatrick"]
    return [
        _share_figure("fitzpatrick", t, f"type {t}", shares[t], n, ref["shares"].get(t), ref["n"])
        for t in shares
    ]


def modality(cases: Sequence[CaseFacts], reference: Mapping[str, Any]) -> list[DriftFigure]:
    shares, n = input_profile.modality_mix(p.modality for c in cases for p in c.photos)
    ref = reference["modality"]
    return [
        _share_figure("modality", m, m.replace("_", " "), shares[m], n, ref["shares"].get(m), ref["n"])
        for m in shares
    ]


def photo_size(cases: Sequence[CaseFacts], reference: Mapping[str, Any]) -> list[DriftFigure]:
    sides = [p.long_side for c in cases for p in c.photos]
    median = input_profile.quantile(sides, 0.5)
    ref = reference["long_side"]
    low, high = ref.get("p05"), ref.get("p95")
    alert = median is not None and low is not None and not low <= median <= high
    return [
        DriftFigure(
            "photo_size",
            "long_side_median",
            "median long side",
            median,
            len(sides),
            ref.get("p50"),
            low,
            high,
            alert,
            unit="pixels",
            note="band: the training photos' 5th to 95th percentile",
        )
    ]


def expected_retake_share(cases: Sequence[CaseFacts], false_retake: float) -> float | None:
    """The share of cases a gate with per-photo false-retake rate ``false_retake`` sends back when
    every photo is as good as an untouched training photo."""
    sized = [len(c.photos) for c in cases if c.photos]
    if not sized:
        return None
    return sum(1 - (1 - false_retake) ** k for k in sized) / len(sized)


def retake_share(cases: Sequence[CaseFacts], false_retake: float | None, source: str) -> list[DriftFigure]:
    with_photos = [c for c in cases if c.photos]
    n = len(with_photos)
    value = sum(c.gate_sent_back for c in with_photos) / n if n else None
    p0 = None if false_retake is None else expected_retake_share(with_photos, false_retake)
    figure = _share_figure("retake", "sent_back", "sent back (retake)", value, n, p0, None)
    return [replace(figure, note=source)]


def drift(
    cases: Sequence[CaseFacts],
    reference: Mapping[str, Any],
    *,
    false_retake: float | None,
    false_retake_source: str,
) -> list[DriftFigure]:
    return [
        *answer_rates(cases, reference),
        *fitzpatrick(cases, reference),
        *photo_size(cases, reference),
        *modality(cases, reference),
        *retake_share(cases, false_retake, false_retake_source),
    ]

"""The figures of the model monitoring, as pure functions of the facts about cases (no database here:
``serving.monitoring.service`` reads the facts, these functions count).

Definitions (every figure is about the cases *submitted* in the window, i.e. by ``created_at``):

* **Outcome label**: ``serving.consults.pathology``'s rule (latest pathology result, else the last
  confirmed or revised diagnosis), mapped by ``model.outcome``. A case is *positive* when its label's
  ``malignant`` is True (also a malignant code outside the model's classes, e.g. Merkel cell
  carcinoma), *negative* when False; a label of uncertain behaviour (``malignant`` None, e.g. D48.5)
  is counted apart and left out of sensitivity, specificity and calibration.
* **Tier at submission**: ``Case.submitted_tier``, the tier of the first triage (a retake or a
  follow-up triages a case again and replaces ``tier``, never ``submitted_tier``). The triage *flags*
  a case at an operating point when its tier is at least that tier (``>= URGENT``: URGENT and
  EMERGENCY; ``>= PRIORITY``: PRIORITY, URGENT, EMERGENCY). Sensitivity = tp / (tp + fn), specificity
  = tn / (tn + fp), with Wilson 95 % intervals (``model.proportions``).
* **Malignancy probability**: the urgency model's ``malignancy`` reading of the submitted photos (the
  first batch), the highest one as the triage takes it (``model.triage.learned``); a case the rules
  alone triaged (no model loaded, or no readable photo) has none and is counted apart.
* **The quality gate** judges each photo (``Photo.quality_verdict``). A submission *passed* the gate
  when every photo of it was accepted; it was *sent back* when at least one photo was judged
  ``retake``. A dermatologist *asked for a retake* when the case has a retake request
  (``POST /v1/cases/{id}/retake-request``). A case was *reviewed* once a dermatologist took it into
  review (``first_reviewed_at``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from model.outcome import Category, OutcomeLabel, Source
from model.proportions import wilson_interval
from model.triage.tiers import Tier

#: the operating points judged: a case is flagged when its tier at submission is at least this one
OPERATING_POINTS: tuple[Tier, ...] = (Tier.URGENT, Tier.PRIORITY)
#: at most this many calibration bins, each of at least MIN_PER_BIN cases (equal-count bins)
MAX_BINS = 5
MIN_PER_BIN = 3


@dataclass(frozen=True)
class SubmittedPhoto:
    """A photo of a case's first submission."""

    long_side: int
    modality: str | None
    accepted: bool
    malignancy: float | None = None
    model: str | None = None


@dataclass(frozen=True)
class CaseFacts:
    id: str
    submitted_at: datetime
    submitted_tier: Tier
    questionnaire: Mapping[str, Any]
    photos: tuple[SubmittedPhoto, ...]
    reviewed: bool
    dermatologist_retake: bool
    label: OutcomeLabel | None = None
    title: str | None = field(default=None, compare=False)

    @property
    def malignancy(self) -> float | None:
        readings = [p.malignancy for p in self.photos if p.malignancy is not None]
        return max(readings) if readings else None

    @property
    def model(self) -> str | None:
        """The urgency model version of the highest reading."""
        read = [p for p in self.photos if p.malignancy is not None]
        return max(read, key=lambda p: p.malignancy).model if read else None

    @property
    def gate_passed(self) -> bool:
        return bool(self.photos) and all(p.accepted for p in self.photos)

    @property
    def gate_sent_back(self) -> bool:
        return any(not p.accepted for p in self.photos)


@dataclass(frozen=True)
class Rate:
    """``k`` of ``n``, its share and Wilson 95 % interval (None when ``n`` is 0)."""

    k: int
    n: int
    value: float | None
    low: float | None
    high: float | None

    @classmethod
    def of(cls, k: int, n: int) -> Rate:
        if n == 0:
            return cls(k, n, None, None, None)
        low, high = wilson_interval(k, n)
        return cls(k, n, k / n, low, high)


# --- counts ----------------------------------------------------------------------------------------


def counts(cases: Sequence[CaseFacts]) -> dict[str, Any]:
    labels = [c.label for c in cases if c.label is not None]
    return {
        "submitted": len(cases),
        "labelled": len(labels),
        "unlabelled": len(cases) - len(labels),
        "by_source": {s.value: sum(lab.source is s for lab in labels) for s in Source},
        "by_category": {c.value: sum(lab.category is c for lab in labels) for c in Category},
        "by_malignant": {
            "malignant": sum(lab.malignant is True for lab in labels),
            "not_malignant": sum(lab.malignant is False for lab in labels),
            "uncertain": sum(lab.malignant is None for lab in labels),
        },
    }


# --- the triage at submission ------------------------------------------------------------------------


@dataclass(frozen=True)
class OperatingPoint:
    at_least: Tier
    tp: int
    fn: int
    tn: int
    fp: int
    sensitivity: Rate
    specificity: Rate


def judged(cases: Sequence[CaseFacts]) -> list[CaseFacts]:
    """The cases whose label says malignant or not (uncertain behaviour and unlabelled left out)."""
    return [c for c in cases if c.label is not None and c.label.malignant is not None]


def operating_point(cases: Sequence[CaseFacts], at_least: Tier) -> OperatingPoint:
    tp = fn = tn = fp = 0
    for c in judged(cases):
        flagged = c.submitted_tier >= at_least
        if c.label.malignant:
            tp, fn = tp + flagged, fn + (not flagged)
        else:
            fp, tn = fp + flagged, tn + (not flagged)
    return OperatingPoint(at_least, tp, fn, tn, fp, Rate.of(tp, tp + fn), Rate.of(tn, tn + fp))


def tier_performance(cases: Sequence[CaseFacts]) -> dict[str, Any]:
    sure = judged(cases)
    by_tier = {
        t.value: {
            "malignant": sum(c.submitted_tier is t and c.label.malignant for c in sure),
            "not_malignant": sum(c.submitted_tier is t and not c.label.malignant for c in sure),
        }
        for t in Tier.by_severity()
    }
    return {
        "positives": sum(c.label.malignant for c in sure),
        "negatives": sum(not c.label.malignant for c in sure),
        "excluded_uncertain": sum(1 for c in cases if c.label is not None and c.label.malignant is None),
        "by_tier": by_tier,
        "operating_points": [operating_point(cases, t) for t in OPERATING_POINTS],
    }


def routine_malignant(cases: Sequence[CaseFacts]) -> list[CaseFacts]:
    """Malignant cases the triage put at ROUTINE on submission, oldest first."""
    found = [c for c in judged(cases) if c.label.malignant and c.submitted_tier is Tier.ROUTINE]
    return sorted(found, key=lambda c: (c.submitted_at, c.id))


# --- calibration -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalibrationBin:
    low: float  # the lowest probability in the bin
    high: float  # the highest
    count: int
    mean_predicted: float
    observed: Rate  # malignant cases in the bin


def bin_sizes(n: int) -> list[int]:
    """Equal-count bins: as many as ``n`` allows (at most MAX_BINS, each of >= MIN_PER_BIN cases, one
    bin below that), the first ones one case larger when ``n`` does not divide."""
    if n == 0:
        return []
    bins = max(1, min(MAX_BINS, n // MIN_PER_BIN))
    base, extra = divmod(n, bins)
    return [base + (i < extra) for i in range(bins)]


def calibration(cases: Sequence[CaseFacts]) -> dict[str, Any]:
    """Reliability of the malignancy probability on the judged cases that have one: equal-count bins
    (the probabilities crowd near 0, where equal-width bins would put almost every case in one), per
    bin the mean probability and the observed malignant share, and the expected calibration error
    ECE = sum over bins of (count / n) * |mean predicted - observed share|."""
    sure = judged(cases)
    scored = sorted(
        ((c.malignancy, bool(c.label.malignant), c.id) for c in sure if c.malignancy is not None),
        key=lambda t: (t[0], t[2]),
    )
    n = len(scored)
    bins, start, ece = [], 0, 0.0
    for size in bin_sizes(n):
        chunk = scored[start : start + size]
        start += size
        mean = sum(p for p, _, _ in chunk) / size
        positives = sum(y for _, y, _ in chunk)
        bins.append(CalibrationBin(chunk[0][0], chunk[-1][0], size, mean, Rate.of(positives, size)))
        ece += size / n * abs(mean - positives / size)
    models = Counter(c.model for c in sure if c.malignancy is not None)
    return {
        "cases": n,
        "without_probability": len(sure) - n,
        "bins": bins,
        "ece": ece if n else None,
        "models": dict(sorted(models.items())),
    }


# --- the quality gate and the dermatologists ------------------------------------------------------------


def quality_agreement(cases: Sequence[CaseFacts]) -> dict[str, Any]:
    """Among reviewed cases: the gate's verdict on the submission against the dermatologist's retake
    request; among the cases the gate sent back: how many reached review anyway (a retake came, or the
    case went on with its readable photos)."""
    reviewed = [c for c in cases if c.reviewed and c.photos]
    passed = [c for c in reviewed if c.gate_passed]
    sent_back_reviewed = [c for c in reviewed if c.gate_sent_back]
    missed = sum(c.dermatologist_retake for c in passed)
    both = sum(c.dermatologist_retake for c in sent_back_reviewed)
    agree = (len(passed) - missed) + both
    sent_back = [c for c in cases if c.gate_sent_back]
    reached = sum(c.reviewed for c in sent_back)
    return {
        "reviewed": len(reviewed),
        "gate_passed": {
            "cases": len(passed),
            "dermatologist_no_retake": len(passed) - missed,
            "dermatologist_retake": missed,
        },
        "gate_sent_back_reviewed": {
            "cases": len(sent_back_reviewed),
            "dermatologist_retake": both,
            "dermatologist_no_retake": len(sent_back_reviewed) - both,
        },
        "gate_missed": Rate.of(missed, len(passed)),
        "agreement": Rate.of(agree, len(reviewed)),
        "sent_back": {
            "photos": sum(not p.accepted for c in sent_back for p in c.photos),
            "cases": len(sent_back),
            "reached_review": Rate.of(reached, len(sent_back)),
        },
    }

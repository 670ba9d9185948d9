"""The answer of ``GET /v1/metrics/model`` (and what the "Model performance" page draws)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from serving.monitoring import drift as drift_figures
from serving.monitoring import figures


class RateOut(BaseModel):
    k: int = Field(description="Cases counted.")
    n: int = Field(description="Out of.")
    value: float | None = Field(description="k / n; null when n is 0.")
    low: float | None = Field(description="Wilson 95 % interval, lower bound; null when n is 0.")
    high: float | None = Field(description="Wilson 95 % interval, upper bound; null when n is 0.")


def rate_out(rate: figures.Rate) -> RateOut:
    return RateOut(k=rate.k, n=rate.n, value=rate.value, low=rate.low, high=rate.high)


class ScopeOut(BaseModel):
    organization_id: str
    jurisdictions: list[str] | None = Field(
        description="A dermatologist's figures count only the cases of the jurisdictions they are licensed "
        "in (listed); null: every case of the organization (admins)."
    )


class CountsOut(BaseModel):
    submitted: int = Field(description="Cases submitted in the window.")
    labelled: int = Field(
        description="... with an outcome label (a pathology result or a settled diagnosis)."
    )
    unlabelled: int
    by_source: dict[str, int] = Field(description="Labels by source: pathology, diagnosis.")
    by_category: dict[str, int] = Field(description="Labels by category: malignant, not_malignant, outside.")
    by_malignant: dict[str, int] = Field(
        description="Labels by malignancy: malignant, not_malignant, uncertain (uncertain behaviour: left "
        "out of sensitivity, specificity and calibration)."
    )


class OperatingPointOut(BaseModel):
    at_least: str = Field(description="A case is flagged when its tier at submission is at least this tier.")
    tp: int = Field(description="Malignant and flagged.")
    fn: int = Field(description="Malignant, not flagged.")
    tn: int = Field(description="Not malignant, not flagged.")
    fp: int = Field(description="Not malignant and flagged.")
    sensitivity: RateOut = Field(description="tp / (tp + fn).")
    specificity: RateOut = Field(description="tn / (tn + fp).")


class TiersOut(BaseModel):
    positives: int = Field(description="Labelled malignant (also outside the model's classes).")
    negatives: int = Field(description="Labelled not malignant.")
    excluded_uncertain: int = Field(description="Labels of uncertain behaviour, left out.")
    by_tier: dict[str, dict[str, int]] = Field(
        description="Per tier at submission: malignant, not_malignant."
    )
    operating_points: list[OperatingPointOut]


class MissedCaseOut(BaseModel):
    case_id: str
    url: str = Field(description="The case's page.")
    submitted_at: datetime
    code: str = Field(description="The outcome's ICD-10-CM code.")
    title: str | None = Field(description="The code's title in the diagnosis catalogue.")
    source: str = Field(description="pathology or diagnosis.")
    model_class: str | None


class CalibrationBinOut(BaseModel):
    low: float = Field(description="The lowest malignancy probability in the bin.")
    high: float = Field(description="The highest.")
    count: int
    mean_predicted: float
    observed: RateOut = Field(description="Malignant cases in the bin.")


class CalibrationOut(BaseModel):
    cases: int = Field(description="Labelled malignant or not, with a malignancy probability.")
    without_probability: int = Field(description="Labelled, but triaged without the urgency model.")
    bins: list[CalibrationBinOut] = Field(description="Equal-count bins, lowest probabilities first.")
    ece: float | None = Field(description="Expected calibration error over the bins; null without cases.")
    models: dict[str, int] = Field(description="Cases per urgency model version.")


class GateSplitOut(BaseModel):
    cases: int
    dermatologist_retake: int
    dermatologist_no_retake: int


class SentBackOut(BaseModel):
    photos: int = Field(description="Submitted photos the gate judged 'retake'.")
    cases: int = Field(description="Cases with such a photo.")
    reached_review: RateOut = Field(description="Of those cases, reviewed by a dermatologist since.")


class GateAgreementOut(BaseModel):
    reviewed: int = Field(description="Cases a dermatologist took into review.")
    gate_passed: GateSplitOut = Field(description="Reviewed cases whose every submitted photo was accepted.")
    gate_sent_back_reviewed: GateSplitOut = Field(
        description="Reviewed cases with a submitted photo judged 'retake'."
    )
    gate_missed: RateOut = Field(
        description="Of the cases the gate passed, those a dermatologist asked a retake of."
    )
    agreement: RateOut = Field(
        description="Reviewed cases where gate and dermatologist agree (passed and no retake request, or "
        "sent back and a retake request)."
    )
    sent_back: SentBackOut


class DriftFigureOut(BaseModel):
    group: str = Field(description="answer_rate, fitzpatrick, photo_size, modality or retake.")
    key: str
    label: str
    value: float | None = Field(description="The service's figure; null without cases or photos.")
    n: int = Field(description="Cases (photos for photo_size and modality) the figure is of.")
    reference: float | None = Field(description="The training data's figure (retake: the expected share).")
    low: float | None = Field(description="The expected band; null: no band.")
    high: float | None
    alert: bool = Field(description="The figure is outside its expected band.")
    unit: str = Field(description="share or pixels.")
    note: str | None


class ReferenceOut(BaseModel):
    sources: list[str]
    splits: list[str]
    manifest_sha256: str | None
    n_lesions: int
    n_photos: int


class DriftOut(BaseModel):
    reference: ReferenceOut | None = Field(description="The training data compared with; null when missing.")
    problem: str | None = Field(description="Why there are no drift figures, when there are none.")
    alerts: int
    figures: list[DriftFigureOut]


class ModelMetricsOut(BaseModel):
    as_of: datetime
    window_days: int
    window_start: datetime = Field(description="Cases submitted from then on are counted.")
    scope: ScopeOut
    counts: CountsOut
    tiers: TiersOut
    routine_malignant: list[MissedCaseOut] = Field(
        description="Malignant cases triaged ROUTINE on submission, oldest first."
    )
    calibration: CalibrationOut
    quality: GateAgreementOut
    drift: DriftOut


def drift_figure_out(f: drift_figures.DriftFigure) -> DriftFigureOut:
    return DriftFigureOut(**f.__dict__)

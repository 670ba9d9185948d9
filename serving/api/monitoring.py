"""Monitoring routes: thin — the models judged on the service's own patients (``serving.monitoring``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from serving.api.openapi import AUTHENTICATED, errors
from serving.auth import REVIEWERS, CurrentClient, require
from serving.db import transaction, utcnow
from serving.monitoring.schemas import ModelMetricsOut
from serving.monitoring.service import MAX_WINDOW_DAYS, MIN_WINDOW_DAYS, model_metrics

router = APIRouter(prefix="/v1", tags=["monitoring"], responses=errors(*AUTHENTICATED))


@router.get(
    "/metrics/model",
    response_model=ModelMetricsOut,
    responses=errors(403, 422),
    summary="The triage, calibration, quality gate and input drift, measured on the service's own cases",
)
def get_model_metrics(
    request: Request,
    client: CurrentClient,
    window_days: Annotated[
        int,
        Query(
            ge=MIN_WINDOW_DAYS,
            le=MAX_WINDOW_DAYS,
            description="Count the cases submitted in the last this many days.",
        ),
    ] = 90,
) -> ModelMetricsOut:
    """Dermatologists and admins. An admin's figures count every case of the organization, a
    dermatologist's only the cases of the jurisdictions they are licensed in. For the cases with an
    outcome label (the latest pathology result, else the last confirmed or revised diagnosis):
    sensitivity and specificity of the tier at submission (>= URGENT, >= PRIORITY; Wilson 95 %
    intervals, with the counts), the malignant cases triaged ROUTINE, and the calibration of the
    malignancy probability; for every case: the quality gate against the dermatologists' retake
    requests, and the input drift against the training data (each figure with its expected band and an
    alert when outside)."""
    require(client, *REVIEWERS)
    with transaction(request.app.state.sessions) as session:
        return model_metrics(session, client=client, window_days=window_days, now=utcnow())

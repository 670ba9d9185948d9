"""The "Model performance" page: the figures of ``GET /v1/metrics/model`` (the same service, the same
audit row ``metrics.model.read``, the same scope: a dermatologist's licensed jurisdictions, an admin's
organization) drawn as inline SVG for a window of 30, 90 or 365 days."""

from __future__ import annotations

from fastapi import APIRouter, Request

from serving.db import transaction, utcnow
from serving.monitoring.service import model_metrics
from serving.web import model_charts
from serving.web.auth_web import CurrentUser
from serving.web.rendering import render

router = APIRouter(include_in_schema=False)

WINDOWS = (30, 90, 365)
DEFAULT_WINDOW = 90


@router.get("/model-performance")
def model_performance(request: Request, user: CurrentUser, window_days: str | None = None):
    days = DEFAULT_WINDOW if window_days is None else int(window_days) if window_days.isdigit() else None
    if days not in WINDOWS:
        return render(
            request,
            "error.html",
            {
                "title": "No such window",
                "message": f"The window {window_days!r} is not one the page offers.",
                "fix": "Choose 30, 90 or 365 days (GET /v1/metrics/model takes any number from 1 to 730).",
            },
            status_code=422,
            user=user,
        )
    with transaction(request.app.state.sessions) as session:
        metrics = model_metrics(session, client=user.client, window_days=days, now=utcnow())
    figures = metrics.drift.figures
    context = {
        "m": metrics,
        "windows": WINDOWS,
        "operating": model_charts.operating_rows(metrics.tiers.operating_points),
        "reliability": model_charts.reliability(metrics.calibration.bins),
        "answers": model_charts.drift_rows([f for f in figures if f.group == "answer_rate"]),
        "mix": model_charts.drift_rows(
            [f for f in figures if f.group in ("fitzpatrick", "modality", "retake")]
        ),
        "sizes": model_charts.size_rows([f for f in figures if f.group == "photo_size"]),
        "alerts": [f for f in figures if f.alert],
        "rate_text": model_charts.rate_text,
        "pct": model_charts.pct,
    }
    return render(request, "model_performance.html", context, user=user)

"""What an operator watches: ``GET /metrics`` (Prometheus), the access log and request ids
(``http``, ``logs``), tracing when an OTLP endpoint is configured (``tracing``).

``install(app, settings)`` is called last by ``create_app`` (its middleware must be the outermost, so
that every answer is counted, those given before routing too) and returns the ``Observability`` the
app's lifespan wires into intake (stage timings) and shuts down.
"""

from __future__ import annotations

import hmac
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from model.triage.engine import StageTiming
from serving.errors import DomainError
from serving.observability.collectors import DatabaseCollector, ModelCollector
from serving.observability.http import RequestTelemetry
from serving.settings import Settings
from serving.telemetry import observe_pool, observe_stage

log = logging.getLogger("dermatriage")

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


class Observability:
    def __init__(self, tracing=None) -> None:
        self.tracing = tracing  # serving.observability.tracing.Tracing, when on

    def record_stages(self, timings: Sequence[StageTiming]) -> None:
        """``Intake.on_stage_timings``: each stage to its histogram, and to a span when tracing."""
        for timing in timings:
            observe_stage(timing.stage, timing.seconds)
        if self.tracing is not None:
            self.tracing.record_stages(timings)

    def shutdown(self) -> None:
        if self.tracing is not None:
            self.tracing.shutdown()
        if os.environ.get(MULTIPROC_VARIABLE):
            multiprocess.mark_process_dead(os.getpid())  # this worker's live gauges leave the sums


#: tracing is on when one of these is set (the OTLP exporter's own variables)
OTLP_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def _tracing(app: FastAPI):
    """The app's tracing when an OTLP endpoint is configured; the otel packages are imported only then."""
    if not any(os.environ.get(name) for name in OTLP_ENDPOINT_VARIABLES):
        return None
    try:
        from serving.observability.tracing import Tracing
    except ImportError as exc:
        log.warning("an OTLP endpoint is set, but tracing is off: %s (install 'dermatriage[otel]')", exc)
        return None
    return Tracing(app)


def install(app: FastAPI, settings: Settings) -> Observability:
    traced = _tracing(app)  # first: its middleware wraps the whole app
    app.add_middleware(RequestTelemetry)
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        if token is not None:
            _require_token(request, token)
        state = request.app.state
        observe_pool(state.engine.pool)  # this process's share, fresh
        return Response(generate_latest(_registry(state)), media_type=CONTENT_TYPE_LATEST)

    return Observability(traced)


def _require_token(request: Request, token: str) -> None:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise DomainError(
            401,
            "unauthenticated",
            "/metrics needs the metrics token",
            fix="Send 'Authorization: Bearer <token>' with the token of DERMATRIAGE_METRICS_TOKEN "
            "(Prometheus: 'authorization: {credentials: ...}' in the scrape config).",
            headers={"WWW-Authenticate": "Bearer"},
        )


class _ThisProcess:
    """The process-wide registry's metrics (single process: every counter, and process_* figures)."""

    def collect(self):
        return REGISTRY.collect()


def _registry(state) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROC_VARIABLE):
        multiprocess.MultiProcessCollector(registry)  # every worker's files, added up
    else:
        registry.register(_ThisProcess())
    registry.register(DatabaseCollector(state.sessions))
    registry.register(ModelCollector(lambda: state.intake.engine.model_versions))
    return registry


@contextmanager
def metrics_directory() -> Iterator[str]:
    """A fresh directory for the workers' metric files, for one start of the service: a new
    directory under ``PROMETHEUS_MULTIPROC_DIR`` when the operator sets one (a tmpfs, say), else under
    the system's temporary directory; removed when the service stops. The workers inherit it."""
    base = os.environ.get(MULTIPROC_VARIABLE)
    path = tempfile.mkdtemp(prefix="dermatriage-metrics-", dir=base or None)
    os.environ[MULTIPROC_VARIABLE] = path
    try:
        yield path
    finally:
        if base is None:
            os.environ.pop(MULTIPROC_VARIABLE, None)
        else:
            os.environ[MULTIPROC_VARIABLE] = base
            # this (supervising) process made its own files there when it imported the metrics
            for own in Path(base).glob(f"*_{os.getpid()}.db"):
                own.unlink(missing_ok=True)
        shutil.rmtree(path, ignore_errors=True)

"""OpenTelemetry tracing, on only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set (``serving.observability`` checks, then imports this):
a span per request (FastAPI instrumentation) and, under the request's span, one per triage stage of
each photo; exported over OTLP/HTTP in batches.

The ``opentelemetry`` packages (the ``otel`` extra) are imported here, and this module only when
tracing is on. The exporter reads the standard ``OTEL_*`` variables (endpoint, headers, timeout);
``OTEL_SERVICE_NAME`` names the service (``dermatriage`` by default). Query strings are left out of
the spans, as out of the logs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

from fastapi import FastAPI
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from model.triage.engine import StageTiming

#: no spans for probes and scrapes
UNTRACED = "/healthz$,/readyz$,/metrics$"
_URL_ATTRIBUTES = ("http.url", "url.full")
_QUERY_ATTRIBUTES = ("url.query",)


def _without_query(span, _scope) -> None:
    """The server span's URL attributes without their query string."""
    if not span.is_recording():
        return
    attributes = getattr(span, "attributes", None) or {}
    for name in _URL_ATTRIBUTES:
        if name in attributes:
            span.set_attribute(name, urlunsplit(urlsplit(str(attributes[name]))._replace(query="")))
    for name in _QUERY_ATTRIBUTES:
        if name in attributes:
            span.set_attribute(name, "")


class Tracing:
    """The app's tracer provider (its own, not the process-wide one: several apps may live in one
    test process), the instrumentation, and the stage spans."""

    def __init__(self, app: FastAPI) -> None:
        named = os.environ.get("OTEL_SERVICE_NAME")  # the resource detector reads it
        resource = Resource.create({} if named else {SERVICE_NAME: "dermatriage"})
        self.provider = TracerProvider(resource=resource)
        self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=self.provider,
            excluded_urls=UNTRACED,
            exclude_spans=["receive", "send"],
            server_request_hook=_without_query,
        )
        self.tracer = self.provider.get_tracer("serving.observability")

    def record_stages(self, timings: Sequence[StageTiming]) -> None:
        """One span per stage, under the current span (the request's), at the times it ran."""
        for timing in timings:
            span = self.tracer.start_span(f"triage.{timing.stage}", start_time=timing.started_ns)
            span.end(end_time=timing.ended_ns)

    def shutdown(self) -> None:
        self.provider.shutdown()  # sends what is still batched

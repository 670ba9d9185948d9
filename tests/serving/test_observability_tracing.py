"""OpenTelemetry: off (and not even imported) without an OTLP endpoint; with one, a span per request and
one per triage stage under it, sent over OTLP/HTTP to a collector (here a tiny one on a local port)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import OrgKeys, make_org, service_settings
from factories import good_jpeg
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from test_intake_api import submit

from serving.app import create_app
from serving.db import make_engine, make_session_factory

#: the modules of the ``otel`` extra, and the one module of the service that imports them
OTEL_EXTRA = (
    "opentelemetry.sdk",
    "opentelemetry.exporter",
    "opentelemetry.instrumentation",
    "serving.observability.tracing",
)


class _Collector(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.posts.append((self.path, self.headers.get("Content-Type"), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args) -> None:  # noqa: A002 - quiet
        pass


@pytest.fixture
def collector() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    server.posts = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _spans(posts) -> list:
    spans = []
    for path, content_type, body in posts:
        assert path == "/v1/traces" and content_type == "application/x-protobuf"
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            names = {a.key: a.value.string_value for a in resource.resource.attributes}
            assert names["service.name"] == "dermatriage"
            spans += [span for scope in resource.scope_spans for span in scope.spans]
    return spans


def test_spans_for_a_request_and_its_triage_stages_reach_the_collector(
    collector, sqlite_url, tmp_path, org_on_sqlite, monkeypatch
):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{collector.server_address[1]}")
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    with TestClient(create_app(service_settings(sqlite_url, tmp_path / "photos"))) as client:
        created = submit(client, org_on_sqlite, [("lesion.jpg", good_jpeg())])
        assert created.status_code == 201, created.text
        case_id = created.json()["id"]
        read = client.get(f"/v1/cases/{case_id}?secret=QUERYWORD", headers=org_on_sqlite.headers())
        assert read.status_code == 200
        assert client.get("/healthz").status_code == 200
    # leaving the app shut its tracer provider down: every span was sent
    spans = _spans(collector.posts)
    by_name = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)
    assert "GET /healthz" not in by_name  # probes are not traced
    (request,) = by_name["POST /v1/cases"]
    for stage in ("triage.decode", "triage.quality"):
        (span,) = by_name[stage]
        assert span.trace_id == request.trace_id and span.parent_span_id == request.span_id
        assert request.start_time_unix_nano <= span.start_time_unix_nano <= span.end_time_unix_nano
        assert span.end_time_unix_nano <= request.end_time_unix_nano
    (lookup,) = by_name["GET /v1/cases/{case_id}"]
    attributes = json.dumps([str(a) for a in lookup.attributes])
    assert "QUERYWORD" not in attributes  # no query string in a span either
    assert case_id in attributes  # the path itself is there (a trace is about one request)


def test_without_an_endpoint_nothing_of_opentelemetry_is_imported(sqlite_url, tmp_path):
    """The otel packages are an optional extra: a service without an endpoint never loads them (FastAPI
    itself imports the OpenTelemetry API, a no-op without a provider)."""
    script = f"""
import sys
EXTRA = {OTEL_EXTRA!r}
from fastapi.testclient import TestClient
from serving.app import create_app
from serving.settings import Settings

settings = Settings(
    database_url={sqlite_url!r}, photo_dir={str(tmp_path / "photos")!r}, migrate_on_start=False,
    urgency_model="none", quality_model="none", deliver_events=False,
)
with TestClient(create_app(settings)) as client:
    assert client.get("/healthz").status_code == 200
print(sorted(name for name in sys.modules if name.startswith(EXTRA)))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DERMATRIAGE_"))}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=99)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_an_endpoint_without_the_otel_packages_leaves_tracing_off(sqlite_url, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setitem(sys.modules, "serving.observability.tracing", None)  # as if not installed
    with TestClient(create_app(service_settings(sqlite_url, tmp_path / "photos"))) as client:
        assert client.get("/healthz").status_code == 200
    assert "tracing is off" in caplog.text and "dermatriage[otel]" in caplog.text


@pytest.fixture
def org_on_sqlite(sqlite_url) -> Iterator[OrgKeys]:
    engine = make_engine(sqlite_url)
    try:
        yield make_org(make_session_factory(engine))
    finally:
        engine.dispose()

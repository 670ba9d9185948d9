"""The logs of ``dermatriage serve``: one JSON object a line, the request id on every line logged while a
request is handled, an access line per request by route template; and never a patient's data or a
secret, whatever the request carried."""

from __future__ import annotations

import io
import json
import logging
import time
import uuid

import httpx2 as httpx
from factories import dark_jpeg, truncated_jpeg
from fastapi.testclient import TestClient
from live_service import ServiceProcess, issue_key, service_env
from webhook_receiver import WebhookReceiver

from serving.app import create_app
from serving.migrations import upgrade
from serving.observability.logs import JsonFormatter, RequestIdFilter, TextFormatter, logging_config
from serving.settings import Settings

#: what a submission carries that must never reach a log line (each word checked on its own)
PATIENT_WORDS = (
    "Zelwyn",  # the concern
    "Brightmoor",  # a relative named in the concern
    "Xylometrazine",  # the medications
    "Quintrell",  # the name in submitted_by
    "zq-caregiver",  # the contact
    "kitchenfloor",  # a photo's filename
    "Farrowdale",  # the refused photo's filename
    "QUERYWORD",  # a query string
)
QUESTIONNAIRE = {
    "jurisdiction": "US-CA",
    "age": 61,
    "body_site": "back",
    "concern": "Zelwyn: my aunt Brightmoor noticed it bleeding last week",
    "medications": "Xylometrazine 40 mg daily",
}
SUBMITTED_BY = {"role": "caregiver", "name": "Alma Quintrell", "contact": "zq-caregiver@example.org"}
ACCESS = {"method", "route", "status", "duration_ms"}


def _submit(base_url: str, key: str, request_id: str, photos: list[tuple[str, bytes]]) -> httpx.Response:
    return httpx.post(
        f"{base_url}/v1/cases",
        data={"questionnaire": json.dumps(QUESTIONNAIRE), "submitted_by": json.dumps(SUBMITTED_BY)},
        files=[("photos", (name, data, "image/jpeg")) for name, data in photos],
        headers={
            "Authorization": f"Bearer {key}",
            "Idempotency-Key": str(uuid.uuid4()),
            "X-Request-ID": request_id,
        },
        timeout=60,
    )


def test_serve_logs_json_lines_with_request_ids_and_no_patient_data(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    env = service_env(
        url,
        tmp_path / "photos",
        environment="production",  # JSON by default outside development
        log_level="debug",  # every line the service and its libraries write
        urgency_model="none",
        quality_model="none",
        event_poll_seconds="0.2",
        webhook_backoff_base_seconds="0.2",
    )
    intake, admin = (issue_key(env, org="obs-logs", role=role) for role in ("intake", "admin"))
    receiver = WebhookReceiver().start()
    receiver.status = 500  # the first delivery fails: the worker logs it
    service = ServiceProcess(env, tmp_path / "serve.log").start()
    try:
        service.wait_ready()
        hook = httpx.put(
            f"{service.base_url}/v1/webhook",
            json={"url": receiver.url_for("obs-logs"), "rotate_secret": True},
            headers={"Authorization": f"Bearer {admin}", "X-Request-ID": "obs-webhook"},
        )
        assert hook.status_code == 200, hook.text
        secret = hook.json()["secret"]
        receiver.add_secret("obs-logs", secret)

        # a dark photo: readable, a retake is suggested (an event for the webhook)
        created = _submit(service.base_url, intake, "obs-submit", [("kitchenfloor-back.jpg", dark_jpeg())])
        assert created.status_code == 201, created.text
        case_id = created.json()["id"]
        refused = _submit(service.base_url, intake, "obs-refused", [("Farrowdale.jpg", truncated_jpeg())])
        assert refused.status_code == 422, refused.text
        read = httpx.get(
            f"{service.base_url}/v1/cases/{case_id}?note=QUERYWORD",
            headers={"Authorization": f"Bearer {intake}", "X-Request-ID": "obs-read"},
        )
        assert read.status_code == 200
        deadline = time.monotonic() + 30
        while not receiver.events() and time.monotonic() < deadline:
            if receiver.deliveries():
                receiver.status = 200  # the first attempt failed: the retry is accepted
            time.sleep(0.05)
        assert receiver.events() and receiver.deliveries()[0].status == 500
    finally:
        service.stop()
        receiver.stop()

    lines = (tmp_path / "serve.log").read_text().splitlines()
    records = [json.loads(line) for line in lines if line.strip()]  # every line is one JSON object
    assert len(records) == len([line for line in lines if line.strip()]) > 10
    for record in records:
        assert {"time", "level", "logger", "message", "request_id"} <= record.keys(), record
    loggers = {r["logger"] for r in records}
    assert {"uvicorn.error", "dermatriage", "dermatriage.access", "dermatriage.events"} <= loggers
    assert not any(r["logger"] == "uvicorn.access" for r in records)  # the service's own access line
    access = {r["request_id"]: r for r in records if r["logger"] == "dermatriage.access"}
    assert access["obs-submit"] | {"duration_ms": 0} == {
        **access["obs-submit"],
        "method": "POST",
        "route": "/v1/cases",
        "status": 201,
        "duration_ms": 0,
    }
    assert access["obs-submit"]["duration_ms"] > 0
    assert access["obs-refused"]["status"] == 422
    assert access["obs-read"]["route"] == "/v1/cases/{case_id}"
    assert all(r.keys() >= ACCESS and r["request_id"] for r in access.values())
    # the failed delivery was logged (by the background worker: no request)
    assert any(r["logger"] == "dermatriage.events" and r["level"] == "warning" for r in records)

    text = "\n".join(lines)
    assert case_id not in text  # the route template, not the path
    for word in PATIENT_WORDS:
        assert word.lower() not in text.lower(), word
    for secret_value in (intake, admin, secret):
        assert secret_value not in text


def test_lines_logged_while_a_request_is_handled_carry_its_id(sqlite_url, tmp_path):
    """In the route's worker thread too (the context travels with the request)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    probe = logging.getLogger("dermatriage.test-probe")
    probe.addHandler(handler)
    probe.setLevel(logging.INFO)
    app = create_app(
        Settings(
            environment="test",
            database_url=sqlite_url,
            photo_dir=tmp_path / "photos",
            migrate_on_start=False,
            urgency_model="none",
            quality_model="none",
            deliver_events=False,
        )
    )

    @app.get("/probe")
    def _probe() -> dict:  # a sync route: run in the thread pool
        probe.info("inside the request")
        return {}

    try:
        with TestClient(app) as client:
            assert client.get("/probe", headers={"X-Request-ID": "probe-1"}).status_code == 200
            answered = client.get("/probe")
        probe.info("outside any request")
    finally:
        probe.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["message"], line["request_id"]) for line in lines] == [
        ("inside the request", "probe-1"),
        ("inside the request", answered.headers["X-Request-ID"]),
        ("outside any request", None),
    ]


def test_the_log_format_follows_the_environment_unless_set():
    def formatter(**settings) -> type:
        return logging_config(Settings(**settings))["formatters"]["line"]["()"]

    assert formatter(environment="development") is TextFormatter
    assert formatter(environment="production") is JsonFormatter
    assert formatter(environment="test") is JsonFormatter
    assert formatter(environment="development", log_format="json") is JsonFormatter
    assert formatter(environment="production", log_format="text") is TextFormatter
    record = logging.LogRecord("dermatriage", logging.INFO, __file__, 1, "hello %s", ("there",), None)
    assert TextFormatter().format(record).endswith("INFO dermatriage [-] hello there")

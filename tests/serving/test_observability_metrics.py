"""GET /metrics: each family after real work (a submission read by the bundled urgency model, a queue
claim, webhook deliveries that fail then succeed), by route template, on SQLite and PostgreSQL; the
optional token."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import service_settings
from factories import dark_jpeg
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from test_intake_api import submit
from webhook_receiver import webhook_receiver_fixture  # noqa: F401 - the webhook_receiver fixture

from serving.app import create_app
from serving.cases.models import Case
from serving.db import transaction, utcnow
from serving.worker import deliver_due

FAMILIES = {
    "dermatriage_http_requests_total",
    "dermatriage_http_request_duration_seconds_bucket",
    "dermatriage_http_requests_in_progress",
    "dermatriage_triage_stage_seconds_count",
    "dermatriage_model_info",
    "dermatriage_queue_depth",
    "dermatriage_queue_oldest_waiting_seconds",
    "dermatriage_queue_sla_breaches",
    "dermatriage_webhook_backlog_events",
    "dermatriage_webhook_oldest_pending_seconds",
    "dermatriage_webhook_given_up_events",
    "dermatriage_webhook_delivery_failures_total",
    "dermatriage_webhook_attempt_duration_seconds_count",
    "dermatriage_webhook_delivery_lag_seconds_count",
    "dermatriage_db_pool_size",
    "dermatriage_db_pool_checked_out",
    "dermatriage_db_pool_checked_in",
    "dermatriage_db_pool_overflow",
    "dermatriage_metrics_database_up",
}


class Scrape:
    """One reading of /metrics: ``value(sample_name, **labels)`` (0 when the series is absent)."""

    def __init__(self, client: TestClient, **headers: str):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        self.text = response.text
        self.samples = [s for family in text_string_to_metric_families(self.text) for s in family.samples]

    def value(self, name: str, **labels: str) -> float:
        found = [s.value for s in self.samples if s.name == name and labels.items() <= s.labels.items()]
        return sum(found)

    def since(self, earlier: Scrape, name: str, **labels: str) -> float:
        """How much ``name`` grew since the ``earlier`` reading."""
        return self.value(name, **labels) - earlier.value(name, **labels)

    def names(self) -> set[str]:
        return {s.name for s in self.samples}

    def labels(self, name: str) -> list[dict[str, str]]:
        return [s.labels for s in self.samples if s.name == name]


@pytest.fixture
def served(database_url, tmp_path):
    """The app with the bundled urgency model (so the urgency stage runs)."""
    app = create_app(service_settings(database_url, tmp_path / "photos", urgency_model="bundled"))
    with TestClient(app) as client:
        yield client


def test_metrics_after_a_submission_a_delivery_and_a_claim(served, sessions, org, webhook_receiver):
    client = served
    webhook_receiver.connect(org.org_id)
    webhook_receiver.status = 500
    before = Scrape(client)

    created = submit(client, org, [("lesion.jpg", dark_jpeg())])  # readable; a retake is suggested (an event)
    assert created.status_code == 201, created.text
    case = created.json()
    tier = case["triage"]["tier"]
    assert client.get(f"/v1/cases/{case['id']}?x=1", headers=org.headers()).status_code == 200

    after = Scrape(client)

    def delta(name: str, **labels: str) -> float:
        return after.since(before, name, **labels)

    # requests, by route template and status
    assert delta("dermatriage_http_requests_total", method="POST", route="/v1/cases", status="201") == 1
    read = {"method": "GET", "route": "/v1/cases/{case_id}", "status": "200"}
    assert delta("dermatriage_http_requests_total", **read) == 1
    assert delta("dermatriage_http_request_duration_seconds_count", **read) == 1
    assert delta("dermatriage_http_request_duration_seconds_bucket", le="+Inf", **read) == 1
    assert case["id"] not in after.text  # no raw path, no case id anywhere
    # the stages of the one photo, each timed once; the models in use
    for stage in ("decode", "quality", "urgency"):
        assert delta("dermatriage_triage_stage_seconds_count", stage=stage) == 1, stage
        assert 0 < delta("dermatriage_triage_stage_seconds_sum", stage=stage) < 30, stage
    versions = client.app.state.intake.engine.model_versions
    assert "urgency_model" in versions
    info = after.labels("dermatriage_model_info")
    assert {(s["component"], s["version"]) for s in info} == set(versions.items())
    # the queue and the webhook backlog of this organization
    assert after.value("dermatriage_queue_depth", organization=org.slug, tier=tier) == 1
    assert after.value("dermatriage_queue_depth", organization=org.slug) == 1
    assert len(after.labels("dermatriage_queue_depth")) >= 4  # every tier listed (0 in the others)
    assert 0 <= after.value("dermatriage_queue_oldest_waiting_seconds", organization=org.slug) < 60
    assert after.value("dermatriage_queue_sla_breaches", organization=org.slug) == 0
    backlog = after.value("dermatriage_webhook_backlog_events", organization=org.slug)
    assert backlog >= 1
    assert after.value("dermatriage_metrics_database_up") == 1

    # the case waited past its review time: one breach, and the wait is told
    with transaction(sessions) as session:
        session.execute(
            update(Case)
            .where(Case.id == case["id"])
            .values(
                queued_at=utcnow() - timedelta(hours=3),
                last_queued_at=None,
                review_due_at=utcnow() - timedelta(hours=1),
            )
        )
    late = Scrape(client)
    assert late.value("dermatriage_queue_sla_breaches", organization=org.slug) == 1
    waited = late.value("dermatriage_queue_oldest_waiting_seconds", organization=org.slug)
    assert 3 * 3600 <= waited < 4 * 3600

    # the webhook answers 500, then 200 (an hour later, when the retries are due)
    deliver_due(sessions)
    failed = Scrape(client)
    assert failed.since(before, "dermatriage_webhook_delivery_failures_total", reason="http_error") >= 1
    webhook_receiver.status = 200
    delivered = deliver_due(sessions, now=utcnow() + timedelta(hours=1))
    assert delivered >= backlog
    done = Scrape(client)
    assert done.names() >= FAMILIES
    attempts = "dermatriage_webhook_attempt_duration_seconds_count"
    assert done.since(before, attempts, outcome="delivered") == delivered
    assert done.since(before, "dermatriage_webhook_delivery_lag_seconds_count") == delivered
    assert done.value("dermatriage_webhook_backlog_events", organization=org.slug) == 0

    # a dermatologist claims the case: the queue is empty again
    claimed = client.post("/v1/queue/claim", headers=org.headers("dermatologist"))
    assert claimed.status_code == 200, claimed.text
    last = Scrape(client)
    claims = {"method": "POST", "route": "/v1/queue/claim", "status": "200"}
    assert last.since(before, "dermatriage_http_requests_total", **claims) == 1
    assert last.value("dermatriage_queue_depth", organization=org.slug) == 0
    # the database pool: as configured, nothing held once the requests are answered
    pool = client.app.state.engine.pool
    assert last.value("dermatriage_db_pool_size") == pool.size() > 0
    assert last.value("dermatriage_db_pool_checked_out") <= 1  # at most the scrape's own
    assert last.value("dermatriage_db_pool_overflow") == 0


def test_a_request_answered_before_routing_is_counted_under_its_route(database_url, tmp_path):
    settings = service_settings(
        database_url, tmp_path / "photos", max_request_bytes=2 * 1024 * 1024, max_photo_bytes=500_000
    )
    with TestClient(create_app(settings)) as client:
        before = Scrape(client)
        too_large = client.post("/v1/cases", content=b"x" * (3 * 1024 * 1024))  # refused by the body cap
        assert too_large.status_code == 413
        missing = client.get("/no/such/page/12345?token=abc")
        assert missing.status_code == 404
        asset = client.get("/docs/assets/swagger-ui.css")  # a mounted app's file: named by its mount
        assert asset.status_code == 200
        after = Scrape(client)
    mounted = {"method": "GET", "route": "/docs/assets/{path}", "status": "200"}
    assert after.since(before, "dermatriage_http_requests_total", **mounted) == 1
    refused = {"method": "POST", "route": "/v1/cases", "status": "413"}
    assert after.since(before, "dermatriage_http_requests_total", **refused) == 1
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert after.since(before, "dermatriage_http_requests_total", **unmatched) == 1
    assert "12345" not in after.text and "token" not in after.text


def test_the_metrics_token_when_one_is_set(database_url, tmp_path):
    settings = service_settings(database_url, tmp_path / "photos", metrics_token="s3cret-scrape")
    with TestClient(create_app(settings)) as client:
        refused = client.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        error = refused.json()["error"]
        assert error["code"] == "unauthenticated" and "DERMATRIAGE_METRICS_TOKEN" in error["fix"]
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert "dermatriage_queue_depth" in Scrape(client, Authorization="Bearer s3cret-scrape").names()


def test_metrics_is_not_an_api_operation(client):
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]

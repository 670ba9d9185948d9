"""Liveness and readiness: the process, the database at its newest migration, the photo store, and
every loaded model answering a tiny inference."""

from __future__ import annotations

import logging

import numpy as np
from fastapi.testclient import TestClient

from serving.app import create_app


def test_health_and_docs(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "photo_store": "ok", "models": "ok"}
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "multipart/form-data" in spec["paths"]["/v1/cases"]["post"]["requestBody"]["content"]


def test_readiness_reports_a_model_that_cannot_answer(settings, monkeypatch):
    with TestClient(create_app(settings.model_copy(update={"quality_model": "bundled"}))) as client:
        assert client.get("/readyz").json()["checks"]["models"] == "ok"
        session = client.app.state.intake.engine.quality_model.model.session
        broken = lambda names, feeds: [np.full((1,), np.nan, np.float32) for _ in names]  # noqa: E731
        monkeypatch.setattr(session, "run", broken)
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "not ready"
    assert "quality_model" in ready.json()["checks"]["models"]


def test_a_readiness_probe_logs_nothing_from_alembic(client, caplog):
    client.get("/readyz")  # the first call may differ (a fresh connection)
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            assert client.get("/readyz").status_code == 200
    assert [r.getMessage() for r in caplog.records if r.name.startswith("alembic")] == []

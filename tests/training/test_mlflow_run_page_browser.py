"""The run page tells the story: a training run's page in the MLflow UI (``mlflow server`` on the run's
own store, as the README starts it) opens with its description, the headline table, holding the
figures the run logged. A screenshot of it goes to var/test-artifacts/screenshots/."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest
from chromium import launched
from tiny_pipeline import make_dataset, tiny_config

from training import tracking
from training.config import REPO_ROOT
from training.urgency.train import train

SCREENSHOTS = REPO_ROOT / "var" / "test-artifacts" / "screenshots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mlflow_server(store: Path, port: int) -> subprocess.Popen:
    """``mlflow server`` on the store's database; its artifacts are where each experiment says."""
    return subprocess.Popen(
        [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def wait_healthy(base: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"mlflow server exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail("mlflow server did not start")


def test_the_run_page_opens_with_the_headline_table(tmp_path, monkeypatch):
    data = tmp_path / "data"
    make_dataset(data)
    store = tmp_path / "store"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    run = train(tiny_config(data), progress=False)
    experiment = tracking.client().get_experiment_by_name("dermatriage-urgency").experiment_id
    auc = run.metrics["test_as_recorded_malignancy_auc"]

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = mlflow_server(store, port)
    try:
        wait_healthy(base, server)
        with launched() as browser:
            page = browser.new_page(viewport={"width": 1366, "height": 1000})
            page.goto(f"{base}/#/experiments/{experiment}/runs/{run.run_id}")
            page.get_by_text("Description", exact=True).first.wait_for(timeout=60_000)
            more = page.get_by_text("Show more", exact=True)
            if more.count():
                more.first.click()
            page.get_by_text("as_recorded", exact=False).first.wait_for(timeout=30_000)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "mlflow_run_page.png"), full_page=True)
            text = page.inner_text("body")
    finally:
        server.terminate()
        server.wait(timeout=30)

    assert run.run_id[:8] in text or "urgency-seed0" in text
    assert f"{auc:.3f}" in text  # the run's own logged figure, in the table the page shows
    assert "sensitivity" in text.lower() and "champion" in text.lower()

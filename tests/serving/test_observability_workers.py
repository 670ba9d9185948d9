"""``dermatriage serve --workers 2``: each worker keeps its counts in the per-start metrics directory,
and /metrics, whichever worker answers it, adds them up; the directory goes when the service stops.
The worker command serves its own delivery metrics."""

from __future__ import annotations

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
from live_service import CLI, ServiceProcess, free_port, service_env
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from serving.migrations import upgrade

HEALTH = {"method": "GET", "route": "/healthz", "status": "200"}


def _health_counts_by_process(metrics_dir: Path) -> dict[str, float]:
    """What each worker's own counter file holds for GET /healthz (pid -> count)."""
    counts = {}
    for path in metrics_dir.glob("counter_*.db"):
        for key, value, _timestamp, _pos in MmapedDict.read_all_values_from_file(str(path)):
            _metric, name, labels, _help = json.loads(key)
            if name == "dermatriage_http_requests_total" and labels == HEALTH and value:
                counts[path.stem.split("_")[-1]] = value
    return counts


def _scraped_health_count(base_url: str) -> float:
    text = httpx.get(f"{base_url}/metrics", timeout=30).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "dermatriage_http_requests_total" and sample.labels == HEALTH
    )


def test_two_workers_counts_are_added_up(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    parent = tmp_path / "metrics"
    parent.mkdir()
    env = service_env(
        url,
        tmp_path / "photos",
        urgency_model="none",
        quality_model="none",
        deliver_events="false",
        migrate_on_start="false",
        log_level="info",
    )
    env["PROMETHEUS_MULTIPROC_DIR"] = str(parent)  # the per-start directory is made inside
    log = tmp_path / "serve.log"
    service = ServiceProcess(env, log, workers=2).start()
    try:
        service.wait_ready()
        deadline = time.monotonic() + 60
        while log.read_text().count("Application startup complete") < 2:  # the other worker, too
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        (run_dir,) = parent.glob("dermatriage-metrics-*")
        before = _scraped_health_count(service.base_url)
        sent = 0
        with ThreadPoolExecutor(max_workers=8) as pool:
            # a new connection per request, 16 at a time, until both workers have answered some
            for _ in range(20):
                answers = list(pool.map(lambda _: httpx.get(f"{service.base_url}/healthz"), range(16)))
                assert all(a.status_code == 200 for a in answers)
                sent += len(answers)
                if len(_health_counts_by_process(run_dir)) == 2:
                    break
        per_worker = _health_counts_by_process(run_dir)
        assert len(per_worker) == 2, per_worker
        after = _scraped_health_count(service.base_url)
        assert after - before == sent
        assert after == sum(per_worker.values())  # one scrape, both workers' counts
    finally:
        service.stop()
    assert not any(parent.iterdir())  # removed when the service stopped, nothing left beside it


def test_the_worker_command_serves_its_delivery_metrics(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    env = service_env(url, tmp_path / "photos", log_level="warning", event_poll_seconds="0.2")
    port = free_port()
    command = [CLI, "worker", "--metrics-port", str(port)]
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        text = None
        for _ in range(300):
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
                break
            except httpx.TransportError:
                assert worker.poll() is None, (tmp_path / "worker.log").read_text()
                time.sleep(0.1)
        assert text is not None
        names = {family.name for family in text_string_to_metric_families(text)}
        assert {"dermatriage_webhook_delivery_lag_seconds", "process_resident_memory_bytes"} <= names
    finally:
        worker.terminate()
        assert worker.wait(timeout=30) == 0

"""The decode-memory budget: a fair weighted semaphore in bytes (a photo bigger than the budget decodes
alone), and the service decoding every photo, case photo or message attachment, within it."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import threading
import time
import uuid

import pytest
from factories import good_jpeg
from fastapi.testclient import TestClient
from PIL import Image
from test_intake_api import QUESTIONNAIRE

import serving.limits.budget as budget_module
from model.intake import PhotoLimits, check_photo, decode_memory
from serving.app import create_app
from serving.limits.budget import MemoryBudget

MB = 1024 * 1024


def hold_in_thread(
    budget: MemoryBudget, nbytes: int, release: threading.Event, got: list
) -> threading.Thread:
    def run() -> None:
        with budget.reserve(nbytes) as amount:
            got.append(amount)
            release.wait(10)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_reservations_that_fit_run_together_and_one_that_does_not_waits():
    budget = MemoryBudget(100)
    release, got = threading.Event(), []
    first = [hold_in_thread(budget, 40, release, got) for _ in range(2)]
    wait_until(lambda: len(got) == 2)
    late = hold_in_thread(budget, 40, threading.Event(), got)
    time.sleep(0.2)
    assert len(got) == 2 and budget.reserved == 80  # 40 more do not fit in the 20 left
    release.set()
    for t in first:
        t.join(5)
    wait_until(lambda: len(got) == 3)
    assert budget.peak == 80
    late.join(0)


def test_first_come_first_served_a_large_reservation_is_not_starved():
    budget = MemoryBudget(100)
    hold, got = threading.Event(), []
    hold_in_thread(budget, 60, hold, got)
    wait_until(lambda: got == [60])
    big = hold_in_thread(budget, 80, threading.Event(), got)  # waits for the 60
    time.sleep(0.1)
    small = hold_in_thread(budget, 10, threading.Event(), got)  # would fit now, but comes later
    time.sleep(0.2)
    assert got == [60]
    hold.set()
    wait_until(lambda: got[:2] == [60, 80])
    big.join(0), small.join(0)


def test_a_reservation_larger_than_the_budget_runs_alone():
    budget = MemoryBudget(100)
    hold, got = threading.Event(), []
    hold_in_thread(budget, 1, hold, got)
    wait_until(lambda: got == [1])
    huge = hold_in_thread(budget, 10_000, threading.Event(), got)
    time.sleep(0.2)
    assert got == [1]  # waits for the whole budget
    hold.set()
    wait_until(lambda: got == [1, 100])
    assert budget.peak == 100
    huge.join(0)


def flat_png(side: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), (180, 120, 100)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def decodes_at_once(monkeypatch):
    """How many photo decodes the service ran at once, at most (each made to last 0.2 s)."""
    state = {"now": 0, "most": 0}
    lock = threading.Lock()
    real = budget_module.ingest_photo

    def counted(*args, **kwargs):
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        try:
            time.sleep(0.2)
            return real(*args, **kwargs)
        finally:
            with lock:
                state["now"] -= 1

    monkeypatch.setattr(budget_module, "ingest_photo", counted)
    return state


@pytest.mark.parametrize("budget", ["room for one", "ample"])
def test_concurrent_submissions_decode_within_the_budget(settings, org, decodes_at_once, budget):
    photo = flat_png(1600)
    needed = decode_memory(check_photo(photo, filename="p.png", limits=PhotoLimits()), PhotoLimits())
    budget_mb = -(-needed * 3 // 2 // MB) if budget == "room for one" else 4096
    app = create_app(settings.model_copy(update={"decode_memory_budget_mb": budget_mb}))
    statuses: list[int] = []
    with TestClient(app) as client:

        def submit() -> None:
            files = [("photos", ("p.png", photo, "image/png"))]
            headers = org.headers(**{"Idempotency-Key": str(uuid.uuid4())})
            form = {"questionnaire": json.dumps(QUESTIONNAIRE)}
            statuses.append(client.post("/v1/cases", data=form, files=files, headers=headers).status_code)

        threads = [threading.Thread(target=submit) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        reserved = client.app.state.intake.decode_budget
    assert statuses == [201] * 4
    assert reserved.capacity == budget_mb * MB
    if budget == "room for one":
        assert decodes_at_once["most"] == 1
        assert reserved.peak == needed
    else:
        assert decodes_at_once["most"] > 1  # the same requests overlap when the budget allows it


def test_message_attachments_are_decoded_within_the_budget(client, org):
    r = client.post(
        "/v1/cases",
        data={"questionnaire": json.dumps(QUESTIONNAIRE)},
        files=[("photos", ("a.jpg", good_jpeg(), "image/jpeg"))],
        headers=org.headers(**{"Idempotency-Key": str(uuid.uuid4())}),
    )
    case_id = r.json()["id"]
    budget = client.app.state.intake.decode_budget
    budget.peak = 0
    photo = flat_png(900)
    message = {"body": "another view", "attachments": [{"content_base64": base64.b64encode(photo).decode()}]}
    r = client.post(f"/v1/cases/{case_id}/messages", json=message, headers=org.headers())
    assert r.status_code == 201, r.text
    assert budget.peak == decode_memory(check_photo(photo, filename="x", limits=PhotoLimits()), PhotoLimits())


_DECODES_IN_THREADS = """
import io, sys, threading
from pathlib import Path
from PIL import Image
from model.intake import PhotoLimits, ingest_photo
from serving.limits.budget import give_back_freed_memory
if sys.argv[1] == "give back":
    give_back_freed_memory()
out = io.BytesIO()
Image.new("RGB", (4000, 4000), (180, 120, 100)).save(out, "PNG")
data = out.getvalue()
def status(field):
    lines = Path("/proc/self/status").read_text().splitlines()
    return int(next(line for line in lines if line.startswith(field + ":")).split()[1]) * 1024

Path("/proc/self/clear_refs").write_text("5")  # the peak from here on
before = status("VmRSS")
one_at_a_time = threading.Lock()

def decode():
    with one_at_a_time:
        ingest_photo(data, filename="p.png", limits=PhotoLimits())

threads = [threading.Thread(target=decode) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(status("VmHWM") - before)
"""


def test_a_finished_decode_leaves_the_process():
    """Four 16 MP decodes, one at a time, each in its own thread (as the threadpool runs them): with
    the service's allocator settings the peak (over the memory before) is about one decode; without
    them, glibc keeps each thread's share (if it ever stops, the last assertion says the setting is
    moot)."""
    peaks = {}
    for memory in ("give back", "keep"):
        done = subprocess.run(
            [sys.executable, "-c", _DECODES_IN_THREADS, memory],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        peaks[memory] = int(done.stdout)
    one = decode_memory(check_photo(flat_png(4000), filename="p", limits=PhotoLimits()), PhotoLimits())
    assert peaks["give back"] < one, (peaks, one)
    assert peaks["keep"] > 2 * peaks["give back"], peaks

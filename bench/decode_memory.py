"""The service's peak memory under maximum-size photos, with and without the decode-memory budget,
interleaved in one run.

    python bench/decode_memory.py [--rounds 1] [--budget-mb 512] [--megapixels 49]

``dermatriage serve`` (the bundled models, SQLite and a photo folder in a temporary directory) runs in
a subprocess; after a warm-up submission (one phone-like JPEG: the models' first inference), one
scenario is sent: ``10 concurrent`` (ten clients at once, each one case with one flat 49-megapixel
PNG, about 50 KB on disk) or ``ten in one`` (one case with ten of them). Each scenario has a fresh
service, so its peak RSS (VmHWM from /proc) is its own; the configurations alternate (with the budget
of ``--budget-mb``, then without: a budget of 1,000,000 MB) and reverse order every round. Prints,
per configuration: the peak RSS, the RSS after the warm-up, the wall time of the scenario and the
answers' statuses.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx2 as httpx
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from factories import good_jpeg  # noqa: E402
from live_service import ServiceProcess, issue_key, memory_kb, service_env  # noqa: E402

UNBOUNDED_MB = 1_000_000
ANSWERS = {"jurisdiction": "US-TX", "age": 52, "sex": "male", "body_site": "back", "bleeding": False}


def flat_png(megapixels: float) -> bytes:
    side = int((megapixels * 1e6) ** 0.5)
    out = io.BytesIO()
    Image.new("RGB", (side, side), (196, 150, 128)).save(out, "PNG", optimize=True)
    return out.getvalue()


def submit(base_url: str, key: str, photos: list[bytes], *, kind: str = "png") -> int:
    files = [("photos", (f"p{i}.{kind}", data, f"image/{kind}")) for i, data in enumerate(photos)]
    r = httpx.post(
        f"{base_url}/v1/cases",
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": str(uuid.uuid4())},
        data={"questionnaire": json.dumps(ANSWERS)},
        files=files,
        timeout=600,
    )
    return r.status_code


def run_scenario(base_url: str, key: str, scenario: str, photo: bytes) -> tuple[float, list[int]]:
    statuses: list[int] = []
    started = time.monotonic()
    if scenario == "10 concurrent":
        threads = [
            threading.Thread(target=lambda: statuses.append(submit(base_url, key, [photo])))
            for _ in range(10)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        statuses.append(submit(base_url, key, [photo] * 10))
    return time.monotonic() - started, statuses


def measure(workdir: Path, budget_mb: int, scenario: str, photo: bytes) -> dict:
    run = workdir / uuid.uuid4().hex[:8]
    env = service_env(
        f"sqlite:///{run / 'db.sqlite'}",
        run / "photos",
        decode_memory_budget_mb=str(budget_mb),
        deliver_events="false",
        log_level="warning",
    )
    run.mkdir(parents=True)
    key = issue_key(env, org="bench")
    service = ServiceProcess(env, run / "serve.log").start()
    try:
        service.wait_ready()
        assert submit(service.base_url, key, [good_jpeg()], kind="jpeg") == 201
        warm = memory_kb(service.pid)["VmRSS"]
        wall, statuses = run_scenario(service.base_url, key, scenario, photo)
        peak = memory_kb(service.pid)["VmHWM"]
    finally:
        service.stop()
    return {"warm_mb": warm / 1024, "peak_mb": peak / 1024, "wall_s": wall, "statuses": sorted(statuses)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--budget-mb", type=int, default=512, help="the budget measured (the default setting)"
    )
    parser.add_argument("--megapixels", type=float, default=49.0)
    args = parser.parse_args()
    photo = flat_png(args.megapixels)
    print(f"photo: {args.megapixels:g} MP PNG, {len(photo) / 1000:.0f} KB", flush=True)
    configs = [
        (budget, scenario)
        for scenario in ("10 concurrent", "ten in one")
        for budget in (args.budget_mb, UNBOUNDED_MB)
    ]
    results: dict[tuple[int, str], list[dict]] = {c: [] for c in configs}
    with tempfile.TemporaryDirectory(prefix="decode_memory_") as tmp:
        for round_no in range(args.rounds):
            for budget, scenario in configs if round_no % 2 == 0 else configs[::-1]:
                result = measure(Path(tmp), budget, scenario, photo)
                results[(budget, scenario)].append(result)
                print(f"  round {round_no + 1}: budget {budget} MB, {scenario}: {result}", flush=True)
    print(
        f"\n{'budget':>14} {'scenario':<14} {'peak RSS MB':>12} {'after warm-up':>14} {'wall s':>7}  answers"
    )
    for budget, scenario in configs:
        rows = results[(budget, scenario)]
        name = "none" if budget == UNBOUNDED_MB else f"{budget} MB"
        peak = max(r["peak_mb"] for r in rows)
        warm = max(r["warm_mb"] for r in rows)
        wall = sum(r["wall_s"] for r in rows) / len(rows)
        answers = sorted({s for r in rows for s in r["statuses"]})
        print(f"{name:>14} {scenario:<14} {peak:>12.0f} {warm:>14.0f} {wall:>7.1f}  {answers}")


if __name__ == "__main__":
    main()

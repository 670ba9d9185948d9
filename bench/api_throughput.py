"""How many photos a second the API triages with concurrent clients, and what the service holds in
memory: ``dermatriage serve`` (one worker, the bundled models, SQLite and a photo folder in a
temporary directory) in a subprocess, and N client threads each submitting cases of one 12 MP
phone-like JPEG (``POST /v1/cases``, one photo, a fully answered questionnaire) as fast as answers
come back.

    python bench/api_throughput.py [--clients 4] [--seconds 30] [--data-dir ../shared/data]

Prints photos per second, the p50 / p99 latency of a submission, the service's resident memory
(RSS, after the run, and its peak) and the tiers the cases got. Targets: >= 12 photos/s with 4
clients on a 2-core machine, p99 <= 2 x p50, RSS <= 450 MB with one worker.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_path import phone_like_jpeg  # noqa: E402

from data_pipelines.locations import default_data_dir  # noqa: E402

ANSWERS = {
    "jurisdiction": "BR-ES",
    "age": 58,
    "sex": "female",
    "body_site": "back",
    "fitzpatrick": 3,
    "size_mm": 6.0,
    "skin_cancer_history": False,
    "itch": True,
    "pain": False,
    "bleeding": False,
    "grew": False,
    "changed": False,
    "elevated": True,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_kb(pid: int) -> dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {
        k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in status) if k in ("VmRSS", "VmHWM")
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    args = parser.parse_args()
    photo = phone_like_jpeg(args.data_dir, source=_usable_source(args.data_dir))
    root = Path(tempfile.mkdtemp(prefix="dermatriage-bench-"))
    port = free_port()
    env = {
        **os.environ,
        "DERMATRIAGE_DATABASE_URL": f"sqlite:///{root / 'bench.db'}",
        "DERMATRIAGE_PHOTO_DIR": str(root / "photos"),
        "DERMATRIAGE_DELIVER_EVENTS": "false",
        "DERMATRIAGE_LOG_LEVEL": "warning",
    }
    cli = str(Path(sys.executable).with_name("dermatriage"))
    subprocess.run([cli, "db", "upgrade"], env=env, check=True, capture_output=True)
    issued = subprocess.run(
        [cli, "keys", "create", "--org", "bench", "--role", "intake"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    key = issued.stdout.split()[-1]
    server = subprocess.Popen([cli, "serve", "--port", str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        else:
            raise SystemExit("the service did not become ready")
        memory_idle = memory_kb(server.pid)

        latencies: list[float] = []
        tiers: Counter[str] = Counter()
        errors: list[str] = []
        lock = threading.Lock()
        stop = 0.0

        def client(n: int) -> None:
            with requests.Session() as http:
                i = 0
                while time.perf_counter() < stop:
                    i += 1
                    start = time.perf_counter()
                    r = http.post(
                        f"{base}/v1/cases",
                        timeout=60,
                        data={"questionnaire": json.dumps(ANSWERS)},
                        files=[("photos", ("photo.jpg", photo, "image/jpeg"))],
                        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": f"c{n}-{i}"},
                    )
                    elapsed = time.perf_counter() - start
                    with lock:
                        if r.status_code == 201:
                            latencies.append(elapsed)
                            tiers[r.json()["triage"]["tier"]] += 1
                        else:
                            errors.append(f"{r.status_code} {r.text[:200]}")

        warm = requests.post(
            f"{base}/v1/cases",
            data={"questionnaire": json.dumps(ANSWERS)},
            files=[("photos", ("photo.jpg", photo, "image/jpeg"))],
            headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "warm-up"},
            timeout=60,
        )
        if warm.status_code != 201:
            raise SystemExit(f"the warm-up submission failed: {warm.status_code} {warm.text[:300]}")
        stop = time.perf_counter() + args.seconds
        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        memory = memory_kb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    if errors:
        print(f"{len(errors)} failed submissions, e.g. {errors[0]}")
    ms = np.asarray(latencies) * 1000
    p50, p99 = float(np.percentile(ms, 50)), float(np.percentile(ms, 99))
    print(
        f"{args.clients} clients, {wall:.1f} s, {len(latencies)} photos of {len(photo) / 1e6:.1f} MB (12 MP)"
    )
    print(f"  throughput  {len(latencies) / wall:.1f} photos/s   (target >= 12)")
    print(f"  latency     p50 {p50:.0f} ms, p99 {p99:.0f} ms, p99/p50 {p99 / p50:.2f}   (target <= 2)")
    print(f"              mean {statistics.mean(ms):.0f} ms")
    rss, peak, idle = memory["VmRSS"] / 1024, memory["VmHWM"] / 1024, memory_idle["VmRSS"] / 1024
    print(f"  service RSS {rss:.0f} MB after the run, peak {peak:.0f} MB, idle {idle:.0f} MB")
    print(f"  tiers       {dict(tiers)}")


def _usable_source(data_dir: Path) -> Path:
    """The PAD-UFES-20 photo bench/triage_path.py uses (its 12 MP copy passes the quality gate)."""
    from triage_path import bundled_engine, usable_source

    return usable_source(bundled_engine(), data_dir)


if __name__ == "__main__":
    main()

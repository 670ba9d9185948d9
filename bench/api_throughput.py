"""How many photos a second the API triages with concurrent clients, at what latency, and what the
service holds in memory, with 1 and 2 worker processes and 4 and 16 clients, interleaved in one run.

    python bench/api_throughput.py [--clients 4 16] [--workers 1 2] [--seconds 30] [--rounds 2]
                                   [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
                                   [--data-dir ../shared/data]

``dermatriage serve --workers N`` (the bundled models; SQLite and a photo folder in a temporary
directory, or, with ``--database-url``, a throw-away database created on that PostgreSQL server and
dropped afterwards) runs in a subprocess; N client threads each submit cases of one 12 MP
phone-like JPEG (``POST /v1/cases``, one photo, a fully answered questionnaire, a new Idempotency-Key
each) as fast as answers come back, each on a new connection (a kept-alive one stays with the worker
that accepted it). The clients share one intake key, so the service runs without its rate limit.

Every configuration (workers x clients) is measured ``--rounds`` times, ``--seconds / --rounds``
seconds each after a warm-up, the rounds alternating between configurations (forwards, then
backwards) so that the machine's noise falls on all alike; each measurement has a fresh service, so
its peak memory is its own. Prints, per configuration: photos per second, the p50 / p99 latency of a
submission, peak RSS of each of the service's processes (uvicorn's supervisor and its workers with
``--workers 2``) and their total, and the ratios of throughput and memory to the baseline in the
same run, the first ``--workers`` value with as many clients. Targets: >= 12 photos/s with 4 clients
on a 2-core machine, p99 <= 2 x p50, RSS <= 450 MB with one worker.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import requests
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from live_service import ServiceProcess, descendants, issue_key, memory_kb, service_env, throwaway_database  # noqa: E402
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
WARM_UP_S = 3.0


@dataclass
class Figures:
    """What the measurements of one configuration add up to."""

    workers: int
    clients: int
    seconds: float = 0.0
    photos: int = 0
    per_round: list[float] = field(default_factory=list)  # photos/s of each measurement
    latencies_ms: list[float] = field(default_factory=list)
    #: each process's own peak (VmHWM) by role, highest first, the highest over the rounds
    peak_kb: dict[str, list[int]] = field(default_factory=dict)
    peak_sum_kb: int = 0  # the highest sampled sum over the processes
    errors: Counter[str] = field(default_factory=Counter)
    tiers: Counter[str] = field(default_factory=Counter)

    @property
    def throughput(self) -> float:
        return self.photos / self.seconds

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q))

    @property
    def peak_total_mb(self) -> float:
        return sum(sum(kbs) for kbs in self.peak_kb.values()) / 1024

    def add_peaks(self, peaks: dict[str, list[int]]) -> None:
        for role, kbs in peaks.items():
            before = self.peak_kb.get(role, [])
            longest = max(len(before), len(kbs))
            pad = [*before, *[0] * (longest - len(before))], [*kbs, *[0] * (longest - len(kbs))]
            self.peak_kb[role] = [max(a, b) for a, b in zip(*pad, strict=True)]


class MemorySampler:
    """Samples the summed RSS of the service's processes (the per-process peaks are the kernel's)."""

    def __init__(self, pid: int, every_s: float = 0.2):
        self.pid, self.every_s = pid, every_s
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            total = sum(memory_kb(p).get("VmRSS", 0) for p in descendants(self.pid))
            self.peak_kb = max(self.peak_kb, total)


def process_peaks(pid: int) -> dict[str, list[int]]:
    """Each process's own peak RSS (KiB), by its role: ``serve`` (the command; with several workers
    uvicorn's supervisor), ``worker``, ``tracker`` (multiprocessing's resource tracker)."""
    peaks: dict[str, list[int]] = {}
    for p in descendants(pid):
        try:
            command = Path(f"/proc/{p}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        role = "serve" if p == pid else "tracker" if b"resource_tracker" in command else "worker"
        peaks.setdefault(role, []).append(memory_kb(p).get("VmHWM", 0))
    return {role: sorted(kbs, reverse=True) for role, kbs in peaks.items()}


def submit(base: str, key: str, photo: bytes, idempotency_key: str) -> requests.Response:
    """One case, on a connection of its own: a kept-alive connection stays with the worker process
    that accepted it, so a few clients could leave a worker idle; real clients come and go."""
    return requests.post(
        f"{base}/v1/cases",
        timeout=120,
        data={"questionnaire": json.dumps(ANSWERS)},
        files=[("photos", ("photo.jpg", photo, "image/jpeg"))],
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": idempotency_key, "Connection": "close"},
    )


def measure(figures: Figures, env: dict, key: str, photo: bytes, seconds: float, log: Path, tag: str) -> None:
    """One measurement: a fresh service, ``figures.clients`` clients for a warm-up then ``seconds``."""
    service = ServiceProcess(env, log, workers=figures.workers).start()
    try:
        service.wait_ready()
        base = service.base_url
        lock = threading.Lock()
        done: list[tuple[float, float]] = []  # (start, end) of every case created
        window = [0.0, 0.0]
        stop = threading.Event()

        def client(n: int) -> None:
            for i in itertools.count():
                if stop.is_set():
                    return
                start = time.perf_counter()
                r = submit(base, key, photo, f"{tag}-c{n}-{i}")
                end = time.perf_counter()
                with lock:
                    if r.status_code == 201:
                        done.append((start, end))
                        if window[0] <= start and end <= window[1]:
                            figures.tiers[r.json()["triage"]["tier"]] += 1
                    else:
                        figures.errors[f"{r.status_code} {r.text[:120]}"] += 1

        with MemorySampler(service.pid) as sampler:
            threads = [threading.Thread(target=client, args=(n,)) for n in range(figures.clients)]
            window[0] = time.perf_counter() + WARM_UP_S
            window[1] = window[0] + seconds
            for t in threads:
                t.start()
            time.sleep(max(0.0, window[1] - time.perf_counter()))
            stop.set()
            for t in threads:
                t.join()
            figures.add_peaks(process_peaks(service.pid))
        figures.peak_sum_kb = max(figures.peak_sum_kb, sampler.peak_kb)
    finally:
        service.stop()
    finished = [end for start, end in done if window[0] <= end <= window[1]]
    figures.photos += len(finished)
    figures.seconds += seconds
    figures.per_round.append(len(finished) / seconds)
    figures.latencies_ms.extend(
        (end - start) * 1000 for start, end in done if window[0] <= start and end <= window[1]
    )


def report(results: list[Figures], *, baseline_workers: int, photo_mb: float, database: str) -> None:
    base = {f.clients: f for f in results if f.workers == baseline_workers}
    print(
        f"\n{database}; one {photo_mb:.1f} MB 12 MP JPEG a case; x base: against {baseline_workers} worker(s)"
    )
    print("workers  clients  photos/s  x base  p50 ms  p99 ms  p99/p50  photos/s of each round")
    for f in results:
        p50, p99 = f.percentile(50), f.percentile(99)
        rounds = " ".join(f"{x:.2f}" for x in f.per_round)
        ratio = f.throughput / base[f.clients].throughput
        print(
            f"{f.workers:>7}  {f.clients:>7}  {f.throughput:>8.2f}  {ratio:>6.2f}"
            f"  {p50:>6.0f}  {p99:>6.0f}  {p99 / p50:>7.2f}  {rounds}"
        )
    print(
        "\npeak RSS, MB: total (the sum of each process's own peak), the highest sampled sum, and per process"
    )
    print("workers  clients  total  x base  sampled  per process")
    for f in results:
        processes = " + ".join(
            f"{role} {'/'.join(f'{kb / 1024:.0f}' for kb in kbs)}" for role, kbs in f.peak_kb.items()
        )
        ratio = f.peak_total_mb / base[f.clients].peak_total_mb
        print(
            f"{f.workers:>7}  {f.clients:>7}  {f.peak_total_mb:>5.0f}  {ratio:>6.2f}"
            f"  {f.peak_sum_kb / 1024:>7.0f}  {processes}"
        )
    for f in results:
        if f.errors:
            failed, example = sum(f.errors.values()), next(iter(f.errors))
            print(f"{f.workers} worker(s), {f.clients} clients: {failed} failed submissions, e.g. {example}")
    tiers = sum((f.tiers for f in results), Counter())
    mean = statistics.mean(x for f in results for x in f.latencies_ms)
    print(f"\ntiers: {dict(tiers)}; latency: mean {mean:.0f} ms")
    print("targets: >= 12 photos/s with 4 clients (2 cores), p99/p50 <= 2, RSS <= 450 MB with one worker")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seconds", type=float, default=30.0, help="Measured seconds per configuration.")
    parser.add_argument("--rounds", type=int, default=2, help="Measurements per configuration.")
    parser.add_argument("--database-url", help="A PostgreSQL server (a throw-away database is made there).")
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    args = parser.parse_args()
    photo = phone_like_jpeg(args.data_dir, source=_usable_source(args.data_dir))
    root = Path(tempfile.mkdtemp(prefix="dermatriage-bench-"))
    results = [Figures(workers=w, clients=c) for w in args.workers for c in args.clients]
    with ExitStack() as stack:
        if args.database_url:
            database_url = stack.enter_context(throwaway_database(args.database_url, "dermatriage_bench"))
            server = make_url(args.database_url).render_as_string(hide_password=True)
            database = f"PostgreSQL (a throw-away database on {server})"
        else:
            database_url = f"sqlite:///{root / 'bench.db'}"
            database = "SQLite"
        # every client shares one key: no rate limit, so that the bench measures the service's capacity
        env = service_env(
            database_url,
            root / "photos",
            deliver_events="false",
            log_level="warning",
            rate_limit_intake_per_minute="0",
        )
        key = issue_key(env, org="bench")
        seconds = args.seconds / args.rounds
        for r in range(args.rounds):
            order = results if r % 2 == 0 else results[::-1]
            for f in order:
                print(f"round {r + 1}: {f.workers} worker(s), {f.clients} clients ...", flush=True)
                measure(
                    f, env, key, photo, seconds, root / "service.log", tag=f"r{r}-w{f.workers}-c{f.clients}"
                )
    report(results, baseline_workers=args.workers[0], photo_mb=len(photo) / 1e6, database=database)
    print(f"\nservice log: {root / 'service.log'}")


def _usable_source(data_dir: Path) -> Path:
    """The PAD-UFES-20 photo bench/triage_path.py uses (its 12 MP copy passes the quality gate)."""
    from triage_path import bundled_engine, usable_source

    return usable_source(bundled_engine(), data_dir)


if __name__ == "__main__":
    main()

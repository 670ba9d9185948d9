"""Page budgets: time to first byte of the dermatologist's pages with 200 queued cases.

    python bench/pages.py [--cases 200] [--requests 50] [--database-url postgresql+psycopg://...]

``dermatriage serve`` (one worker, the rules and classical checks, no rate limit) runs in a subprocess
on SQLite in a temporary folder, or, with ``--database-url``, on a throw-away database created on that
PostgreSQL server and dropped afterwards. The queue holds ``--cases`` queued cases of one
organization: 30 submitted through the intake API (real photos and thumbnails, triaged), the others
bulk-inserted (``tests/serving/queue_cases.py``) with a photo row each, some of them back from the
patient (a question and its answer in the thread, a retake batch), as a busy queue would be.

A dermatologist signs in through the sign-in form; then, after 10 warm-up requests each, ``--requests``
requests of each page are timed, interleaved (one of each in turn, so that the machine's noise falls on
all alike), each its time to the first byte (the response's headers) and to the last:

- ``GET /healthz``: the baseline (no database, no template), for the ratios;
- ``GET /queue``: the queue page (first page, 25 rows, the emergency and in-review side lists);
- ``GET /cases/{id}``: a case page (a submitted case with two photos);
- ``GET /queue/live?since=<current>``: the live poll when nothing changed (204, what every open queue
  page asks every 3 s);
- ``GET /queue/live?since=<stale>``: the live poll when the queue changed (the rows rendered again).

Prints the median and p90 of each, the ratio of its median to the baseline's, and the budget:
pages and the changed poll <= 100 ms median to first byte; the unchanged poll <= 20 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import insert, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "serving"))
from factories import good_jpeg  # noqa: E402
from live_service import ServiceProcess, issue_key, service_env, throwaway_database  # noqa: E402
from queue_cases import case_row, insert_cases  # noqa: E402
from web_support import sign_in, with_password  # noqa: E402

from serving.cases.models import Case, Photo  # noqa: E402
from serving.consults.models import Message  # noqa: E402
from serving.db import make_engine, make_session_factory, new_id, transaction, utcnow  # noqa: E402
from serving.orgs.models import Organization  # noqa: E402

WARMUP = 10
SUBMITTED = 30
SITES = ("back", "arm", "face", "leg", "chest", "hand", "scalp", "neck")
CONCERNS = (
    "A mole on my back got darker over the summer and itches now and then.",
    "Red scaly patches on my elbows for two months; creams from the pharmacy did not help.",
    "A small bump on my nose that bleeds when I dry my face and does not heal.",
    "My child has a rash on the legs since yesterday with a fever.",
)
BUDGET_MS = 100.0
POLL_BUDGET_MS = 20.0


def answers(rng: random.Random, i: int) -> dict:
    return {
        "jurisdiction": rng.choice(("US-CA", "US-NY", "US-TX")),
        "age": rng.randint(18, 90),
        "sex": rng.choice(("female", "male")),
        "body_site": SITES[i % len(SITES)],
        "duration_days": rng.randint(3, 400),
        "itch": rng.random() < 0.4,
        "concern": CONCERNS[i % len(CONCERNS)],
    }


def submit(api: httpx.Client, key: str, questionnaire: dict, seed: int, photos: int = 2) -> dict:
    r = api.post(
        "/v1/cases",
        data={"questionnaire": json.dumps(questionnaire)},
        files=[("photos", (f"p{k}.jpg", good_jpeg(seed * 10 + k), "image/jpeg")) for k in range(photos)],
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": str(uuid.uuid4())},
    )
    r.raise_for_status()
    return r.json()


def fill(sessions, org_id: str, n: int, template: Photo, rng: random.Random) -> None:
    """``n`` queued cases in bulk, a photo row each (the template's stored files); one in five back from
    the patient: a question answered in the thread, or a retake (a second batch)."""
    now = utcnow()
    rows = []
    for i in range(n):
        row = case_row(
            org_id,
            tier=rng.choice(("ROUTINE", "ROUTINE", "PRIORITY", "URGENT")),
            urgency=round(rng.random(), 3),
            due_in=timedelta(hours=rng.uniform(-2, 48)),
            age=timedelta(hours=rng.uniform(0, 40)),
            now=now,
        )
        q = answers(rng, i)
        row.update(questionnaire=q, jurisdiction=q["jurisdiction"])
        rows.append(row)
    ids = insert_cases(sessions, rows)
    columns = [c.key for c in Photo.__table__.columns if c.key not in ("id", "case_id")]
    photo = {c: getattr(template, c) for c in columns}
    photos, messages = [], []
    for i, case_id in enumerate(ids):
        photos.append({**photo, "id": new_id(), "case_id": case_id, "batch": 1, "position": 1})
        if i % 10 == 3:  # a retake
            photos.append({**photo, "id": new_id(), "case_id": case_id, "batch": 2, "position": 1})
        if i % 10 == 7:  # a question and its answer
            for sender, minutes in (("dermatologist", 90), ("patient", 30)):
                messages.append(
                    {
                        "id": new_id(),
                        "organization_id": org_id,
                        "case_id": case_id,
                        "sender": sender,
                        "kind": "question" if sender == "dermatologist" else "message",
                        "body": "Has it bled?" if sender == "dermatologist" else "Yes, twice last week.",
                        "created_at": now - timedelta(minutes=minutes),
                    }
                )
    with transaction(sessions) as session:
        session.execute(insert(Photo), photos)
        session.execute(insert(Message), messages)


def timed(http: httpx.Client, path: str) -> tuple[float, float, int]:
    """Milliseconds to the first byte (headers) and to the last, and the status."""
    started = time.perf_counter()
    with http.stream("GET", path) as r:
        first = time.perf_counter()
        r.read()
        last = time.perf_counter()
    return (first - started) * 1000, (last - started) * 1000, r.status_code


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server (default: SQLite)")
    args = parser.parse_args()
    if args.cases < SUBMITTED:
        parser.error(f"--cases must be at least {SUBMITTED}")
    rng = random.Random(15)

    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-pages-")))
        if args.database_url:
            url = stack.enter_context(throwaway_database(args.database_url, prefix="dermatriage_bench"))
        else:
            url = f"sqlite:///{tmp / 'bench.db'}"
        env = service_env(
            url,
            tmp / "photos",
            environment="test",
            urgency_model="none",
            quality_model="none",
            deliver_events="false",
            log_level="warning",
            rate_limit_intake_per_minute="0",
            rate_limit_dermatologist_per_minute="0",
        )
        slug = f"bench-{uuid.uuid4().hex[:8]}"
        intake_key = issue_key(env, org=slug, role="intake")  # creates the organization, migrates
        engine = make_engine(url)
        stack.callback(engine.dispose)
        sessions = make_session_factory(engine)
        with transaction(sessions) as session:
            org_id = session.scalar(select(Organization.id).where(Organization.slug == slug))
        with_password(sessions, org_id, login="derm", jurisdictions=("US-CA", "US-NY", "US-TX"))

        service = ServiceProcess(env, tmp / "service.log").start()
        stack.callback(service.stop)
        service.wait_ready()
        api = stack.enter_context(httpx.Client(base_url=service.base_url, timeout=60))
        started = time.perf_counter()
        submitted = [submit(api, intake_key, answers(rng, i), i) for i in range(SUBMITTED)]
        with transaction(sessions) as session:
            template = session.scalar(select(Photo).where(Photo.case_id == submitted[0]["id"]).limit(1))
            session.expunge(template)
        fill(sessions, org_id, args.cases - SUBMITTED, template, rng)
        with transaction(sessions) as session:
            queued = session.scalar(
                select(Case.id).where(Case.organization_id == org_id, Case.status == "queued").limit(1)
            )
            n_queued = len(session.scalars(select(Case.id).where(Case.status == "queued")).all())
        print(
            f"{n_queued} queued cases ({SUBMITTED} submitted, the rest bulk-inserted) in "
            f"{time.perf_counter() - started:.1f} s; {'PostgreSQL' if args.database_url else 'SQLite'}"
        )

        http = stack.enter_context(httpx.Client(base_url=service.base_url, timeout=60))
        assert sign_in(http, slug, "derm").status_code == 303, "sign-in failed"
        case_id = (
            next(c["id"] for c in submitted if c["status"] == "queued") if queued else submitted[0]["id"]
        )
        page = http.get("/queue").text
        version = page.split('data-version="', 1)[1].split('"', 1)[0]
        paths = {
            "GET /healthz (baseline)": "/healthz",
            "GET /queue": "/queue",
            "GET /cases/{id}": f"/cases/{case_id}",
            "GET /queue/live, unchanged": f"/queue/live?since={version}",
            "GET /queue/live, changed": "/queue/live?since=stale",
        }
        expected = {"GET /queue/live, unchanged": 204}
        figures: dict[str, list[float]] = {name: [] for name in paths}
        totals: dict[str, list[float]] = {name: [] for name in paths}
        for i in range(WARMUP + args.requests):
            for name, path in paths.items():
                first, last, status = timed(http, path)
                if status != expected.get(name, 200):
                    raise SystemExit(f"{name}: status {status}")
                if i >= WARMUP:
                    figures[name].append(first)
                    totals[name].append(last)

    base = statistics.median(figures["GET /healthz (baseline)"])
    print(
        f"\ntime to first byte, {args.requests} requests each after {WARMUP} warm-up ({args.cases} queued):"
    )
    print(f"{'':30} {'median':>9} {'p90':>9} {'last byte':>10} {'x baseline':>10}  budget")
    for name in paths:
        median, p90 = statistics.median(figures[name]), percentile(figures[name], 0.9)
        budget = POLL_BUDGET_MS if name.endswith("unchanged") else BUDGET_MS
        verdict = (
            "" if name.endswith("(baseline)") else f"{'✓' if median <= budget else '✗'} <= {budget:g} ms"
        )
        print(
            f"{name:30} {median:7.1f}ms {p90:7.1f}ms {statistics.median(totals[name]):8.1f}ms "
            f"{median / base:9.1f}x  {verdict}"
        )


if __name__ == "__main__":
    main()

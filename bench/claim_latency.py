"""Claim latency on PostgreSQL with 1,000 and with 100,000 queued cases.

    python bench/claim_latency.py [--sizes 1000 100000] [--claims 300] [--url postgresql+psycopg://...]

For each size: a throw-away database (created on the server at --url, default
$DERMATRIAGE_TEST_POSTGRES_URL or the local ``test`` server, dropped afterwards), migrated, one
organization with a dermatologist licensed in US-CA, US-NY and US-TX, and that many queued cases
bulk-loaded with COPY (tiers, urgency scores, ages and due times spread as in a real queue; one in
ten in a jurisdiction the dermatologist is not licensed in). Then ``--claims`` claims on each, each
its own transaction through ``serving.queue.service.claim_next`` (lease sweep, the ``FOR UPDATE
SKIP LOCKED`` pick, the move to in_review, the lease, two audit rows, commit), timed one by one
after 20 warm-up claims, alternating between the sizes (so the machine's load falls on both
alike). Prints median and p99 for each size, the ratio of the medians (target < 2) and the plan
PostgreSQL chose for the pick.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from serving.audit import Actor  # noqa: E402
from serving.auth import Client  # noqa: E402
from serving.cases.models import Case  # noqa: E402
from serving.db import make_engine, make_session_factory, transaction, utcnow  # noqa: E402
from serving.migrations import upgrade  # noqa: E402
from serving.orgs.service import Role, create_org  # noqa: E402
from serving.people.service import create_user  # noqa: E402
from serving.queue import service  # noqa: E402
from serving.queue.order import QUEUE_ORDER  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LICENCES = ("US-CA", "US-NY", "US-TX")
TIERS = (("URGENT", 4, 0.05), ("PRIORITY", 24, 0.25), ("ROUTINE", 48, 0.70))  # name, SLA hours, share
COLUMNS = (
    "id", "organization_id", "status", "jurisdiction", "questionnaire", "submitted_by", "created_at",
    "updated_at", "tier", "urgency_score", "retake_required", "reasons", "patient_advice", "model_versions",
    "triaged_at", "queued_at", "review_due_at",
)  # fmt: skip
WARMUP = 20


def fill(engine, org_id: str, n: int, seed: int = 0) -> float:
    """COPY n queued cases into the table; returns the seconds it took (with ANALYZE)."""
    rng = random.Random(seed)
    now = utcnow()
    names, hours, weights = zip(*TIERS, strict=True)
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur, cur.copy(f"COPY cases ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for _ in range(n):
                k = rng.choices(range(len(names)), weights)[0]
                created = now - timedelta(minutes=rng.uniform(0, hours[k] * 60 * 1.2))
                where = rng.choice(LICENCES) if rng.random() < 0.9 else "US-FL"
                copy.write_row(
                    (
                        str(uuid.uuid4()),
                        org_id,
                        "queued",
                        where,
                        json.dumps({"jurisdiction": where, "body_site": "back"}),
                        '{"role": "patient"}',
                        created,
                        created,
                        names[k],
                        round(rng.random(), 4),
                        False,
                        '["bench"]',
                        "[]",
                        '{"urgency_rules": "bench"}',
                        created,
                        created,
                        created + timedelta(hours=hours[k]),
                    )
                )
        raw.commit()
    finally:
        raw.close()
    with engine.connect() as conn:
        conn.execute(text("ANALYZE cases"))
        conn.commit()
    return time.perf_counter() - started


def dermatologist(sessions) -> Client:
    with transaction(sessions) as session:
        org = create_org(session, slug=f"bench-{uuid.uuid4().hex[:8]}")
        user = create_user(
            session, org=org, name="Dr. Bench", role="dermatologist", jurisdictions=LICENCES
        ).user
    actor = Actor(organization_id=org.id, key_id=None, role=Role.dermatologist.value, user_id=user.id)
    return Client(
        organization=org,
        key_id="bench",
        role=Role.dermatologist,
        actor=actor,
        user_id=user.id,
        jurisdictions=frozenset(user.jurisdictions),
    )


def pick_plan(engine, client: Client) -> str:
    query = (
        select(Case.id)
        .where(
            Case.organization_id == client.organization.id,
            Case.status == "queued",
            Case.jurisdiction.in_(sorted(client.jurisdictions)),
        )
        .order_by(*QUEUE_ORDER)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        return "\n".join(r[0] for r in conn.execute(text(f"EXPLAIN {compiled}")))


class Queue:
    """A throw-away database holding one organization's queue of ``size`` cases."""

    def __init__(self, admin_url: str, size: int):
        self.size = size
        self.name = f"dermatriage_bench_{uuid.uuid4().hex[:10]}"
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        url = make_url(admin_url).set(database=self.name).render_as_string(hide_password=False)
        upgrade(url)
        self.engine = make_engine(url)
        self.sessions = make_session_factory(self.engine)
        self.client = dermatologist(self.sessions)
        self.load_s = fill(self.engine, self.client.organization.id, size)
        self.timings: list[float] = []

    def claim(self, *, timed: bool) -> None:
        started = time.perf_counter()
        with transaction(self.sessions) as session:
            case = service.claim_next(session, client=self.client)
        elapsed = time.perf_counter() - started
        if case is None:
            raise SystemExit(f"the queue of {self.size} ran dry")
        if timed:
            self.timings.append(elapsed * 1000)

    def figures(self) -> tuple[float, float]:
        t = sorted(self.timings)
        return statistics.median(t), t[min(len(t) - 1, round(0.99 * (len(t) - 1)))]

    def drop(self) -> None:
        self.engine.dispose()
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=os.environ.get("DERMATRIAGE_TEST_POSTGRES_URL", DEFAULT_URL))
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000])
    parser.add_argument("--claims", type=int, default=300)
    args = parser.parse_args()
    if max(args.sizes) < WARMUP + args.claims:
        parser.error("every size must hold at least the warm-up and the measured claims")

    queues: list[Queue] = []
    try:
        for size in args.sizes:
            print(f"{size:>9,} queued cases: loading ...", flush=True)
            queues.append(Queue(args.url, size))
        # interleaved, one claim on each queue in turn, so that the machine's load hits both alike
        for i in range(WARMUP + args.claims):
            for q in queues:
                q.claim(timed=i >= WARMUP)
        for q in queues:
            median, p99 = q.figures()
            print(
                f"{q.size:>9,} queued cases: claim median {median:.2f} ms, p99 {p99:.2f} ms "
                f"({args.claims} claims; loaded in {q.load_s:.1f} s)"
            )
        big = queues[-1]
        print(f"\nplan of the pick with {big.size:,} queued cases:\n{pick_plan(big.engine, big.client)}")
        if len(queues) >= 2:
            ratio = big.figures()[0] / queues[0].figures()[0]
            verdict = "OK" if ratio < 2 else "OVER the target of 2"
            print(f"\nmedian ratio {big.size:,} / {queues[0].size:,} queued cases: {ratio:.2f} ({verdict})")
    finally:
        for q in queues:
            q.drop()


if __name__ == "__main__":
    main()

"""Crash proof: the real service (``dermatriage serve``, the bundled models) is killed with SIGKILL at
seeded random moments while client threads send a stream of submissions, and restarted; every client
retries its submission with the same Idempotency-Key until it is answered. Afterwards every
acknowledged submission is one case, the one acknowledged; none is half-written (every case has its
photo, whose files hold the right bytes, and its audit row; no event names a case that is not there);
after ``dermatriage photos sweep --grace 0`` the photo folder holds exactly the files rows reference
(no orphan, no temporary file); and the database passes its integrity check. On SQLite and on
PostgreSQL (a database of its own)."""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import threading
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx
import pytest
from conftest import throwaway_postgres
from factories import good_jpeg
from live_service import ServiceProcess, dermatriage, issue_key, service_env
from sqlalchemy import create_engine, select, text

from serving.audit import AuditEvent
from serving.cases.models import Case, IdempotencyRecord, Photo
from serving.db import make_engine, make_session_factory, transaction
from serving.events.models import OutboxEvent
from serving.photos.references import referenced_keys

CLIENTS = 4
KILLS = 6
SEED = 13
QUESTIONNAIRE = json.dumps({"jurisdiction": "US-TX", "age": 47, "body_site": "back", "bleeding": True})


@dataclass
class Submission:
    key: str
    photo: bytes
    attempts: int = 0
    statuses: list[int] = field(default_factory=list)  # every HTTP answer, in order
    case_id: str | None = None


class Clients:
    """Client threads, each sending submissions one after another until told to stop; a submission
    is retried with its key after a connection error or a server error until it is answered."""

    def __init__(self, base_url: str, api_key: str, n: int):
        self.base_url, self.api_key = base_url, api_key
        self.done: list[Submission] = []  # answered (200 or 201)
        self.refused: list[Submission] = []  # answered with a client error: a test failure
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(n)]

    def __enter__(self) -> Clients:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in self.threads), "a client never got its answer"

    def answered(self) -> int:
        with self.lock:
            return len(self.done)

    def _run(self, client: int) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as http:
            n = 0
            while not self.stop.is_set():
                n += 1
                # each submission its own photo, so each case has files of its own
                submission = Submission(f"crash-{client}-{n}", good_jpeg(client * 1000 + n, size=(320, 240)))
                self._submit(http, submission)

    def _submit(self, http: httpx.Client, submission: Submission) -> None:
        while True:
            submission.attempts += 1
            try:
                r = http.post(
                    "/v1/cases",
                    data={"questionnaire": QUESTIONNAIRE},
                    files=[("photos", ("lesion.jpg", submission.photo, "image/jpeg"))],
                    headers={"Authorization": f"Bearer {self.api_key}", "Idempotency-Key": submission.key},
                )
            except httpx.TransportError:  # the service died under this request, or is not up yet
                time.sleep(0.05)
                continue
            submission.statuses.append(r.status_code)
            if r.status_code >= 500:
                time.sleep(0.05)
                continue
            with self.lock:
                if r.status_code in (200, 201):
                    submission.case_id = r.json()["id"]
                    self.done.append(submission)
                else:
                    self.refused.append(submission)
            return


def _wait_for(clients: Clients, answered: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while clients.answered() < answered:
        assert time.monotonic() < deadline, f"no progress: {clients.answered()} of {answered} answered"
        time.sleep(0.02)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_database(request, tmp_path: Path):
    """An empty database of this test's own: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'dermatriage.db'}"
        return
    with throwaway_postgres() as url:
        yield url


def test_killed_service_keeps_every_acknowledged_submission_once_and_whole(fresh_database, tmp_path):
    photo_dir = tmp_path / "photos"
    env = service_env(fresh_database, photo_dir, deliver_events="false", log_level="warning")
    api_key = issue_key(env, org="crash-clinic")
    service = ServiceProcess(env, tmp_path / "service.log").start()
    rng = random.Random(SEED)
    try:
        service.wait_ready()
        with Clients(service.base_url, api_key, CLIENTS) as clients:
            for _ in range(KILLS):
                # a few answers since the (re)start, then a random moment in the stream
                _wait_for(clients, clients.answered() + rng.randint(1, 4))
                time.sleep(rng.uniform(0.0, 0.4))
                service.kill()
                service.start()  # the clients' retries wait for it to come up
            _wait_for(clients, clients.answered() + 2)
        service.kill()  # the last one, too, goes without a shutdown
    finally:
        service.kill()

    assert clients.refused == [], [(s.key, s.statuses) for s in clients.refused]
    submissions = {s.key: s for s in clients.done}
    assert len(submissions) == len(clients.done) >= KILLS * 2
    retried = [s for s in submissions.values() if s.attempts > 1]
    assert retried, "no kill interrupted a submission: the test proved nothing"
    statuses = Counter(code for s in submissions.values() for code in s.statuses)
    assert not [c for c in statuses if c >= 500], f"server errors: {statuses}"

    engine = make_engine(fresh_database)
    try:
        with transaction(make_session_factory(engine)) as session:
            _assert_each_submission_one_whole_case(session, submissions, photo_dir)
        left = Counter(p.name.startswith(".tmp-") for p in photo_dir.rglob("*") if p.is_file())
        swept = dermatriage(env, "photos", "sweep", "--grace", "0")
        with transaction(make_session_factory(engine)) as session:
            referenced = referenced_keys(session)
    finally:
        engine.dispose()
    stored = {p.relative_to(photo_dir).as_posix() for p in photo_dir.rglob("*") if p.is_file()}
    assert stored == referenced, f"left after the sweep ({swept.strip()}): {sorted(stored - referenced)}"
    _assert_database_sound(fresh_database)
    print(
        f"\n{len(submissions)} submissions through {KILLS} kills: {len(retried)} retried, "
        f"answers {dict(statuses)}; {left[True]} temporary file(s) left; sweep: {swept.strip()}"
    )


def _assert_each_submission_one_whole_case(session, submissions: dict[str, Submission], photo_dir: Path):
    records = {r.key: r.case_id for r in session.scalars(select(IdempotencyRecord))}
    assert records == {key: s.case_id for key, s in submissions.items()}  # one case per key, as answered
    cases = set(session.scalars(select(Case.id)))
    assert cases == set(records.values())  # and no case that no answer named
    photos = session.scalars(select(Photo)).all()
    assert Counter(p.case_id for p in photos) == dict.fromkeys(cases, 1)
    for p in photos:
        image, thumbnail = photo_dir / p.storage_key, photo_dir / p.thumbnail_key
        assert image.is_file() and thumbnail.is_file(), f"case {p.case_id}: a photo row without its files"
        content = image.read_bytes()
        assert hashlib.sha256(content).hexdigest() == p.sha256 and len(content) == p.size_bytes
        assert thumbnail.stat().st_size > 0
    created = session.scalars(select(AuditEvent.resource_id).where(AuditEvent.action == "case.create"))
    assert Counter(created) == dict.fromkeys(cases, 1)
    assert set(session.scalars(select(OutboxEvent.case_id))) <= cases  # no event of a case never made


def _assert_database_sound(url: str) -> None:
    """SQLite: the file passes its integrity and foreign-key checks. PostgreSQL: no session of the
    killed service lingers (none holds a lock or an open transaction)."""
    if url.startswith("sqlite"):
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        return
    engine = create_engine(url)
    try:
        deadline = time.monotonic() + 10
        while True:
            with engine.connect() as conn:
                others = conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
            if others == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert others == 0, f"{others} session(s) of the killed service still open"
    finally:
        engine.dispose()

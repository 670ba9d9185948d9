"""More than one machine: two ``dermatriage serve`` processes on two ports and one ``dermatriage
worker``, sharing nothing but one PostgreSQL database (a fresh one, migrated once by ``dermatriage db
upgrade``), one bucket of moto's S3 server and the storage key, as the replicas of compose.yaml do.
Client threads work through both replicas at once:

* **exactly-once intake**: every submission goes to both replicas at the same moment with one
  Idempotency-Key, some a third time: one case per key, every answer names it, its photo objects are
  in the bucket and no object is left that no row names;
* **each case claimed once**: dermatologists claim the next case through one replica and close it
  through the other until the queue is empty: no case claimed twice, none left;
* **a sign-in is good on every replica**: signed in through one, the pages answer through the other,
  and signing out through that one ends the session for both;
* **each event delivered once**: every event of the organization's feed (paged through both
  replicas) reached the webhook receiver exactly once, signed with the secret the worker unsealed.

The replicas run as deployed, with the bundled urgency and quality models (on this test's small
photos they cost about as much as the rules alone)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest
from conftest import make_dermatologist, make_org, throwaway_postgres
from factories import good_jpeg
from live_service import CLI, ServiceProcess, dermatriage, service_env
from s3_server import s3_server_fixture  # noqa: F401 - the s3_server fixture
from sqlalchemy import select
from web_support import CSRF_FIELD, CSRF_META, PASSWORD, with_password
from webhook_receiver import WebhookReceiver

from serving.audit import AuditEvent
from serving.cases.models import Case, IdempotencyRecord, Photo
from serving.db import make_engine, make_session_factory, transaction
from serving.encryption import keyring_from
from serving.photos.backends import photo_store_from
from serving.photos.references import referenced_keys
from serving.settings import Settings
from serving.web.auth_web import SESSION_COOKIE

SUBMISSIONS = 16  # each sent to both replicas at once
RETRIED_EVERY = 3  # ... and every third a third time, afterwards
CLIENTS = 4  # submissions in flight at once (two requests each)
DERMATOLOGISTS = 4
QUESTIONNAIRE = json.dumps({"jurisdiction": "US-TX", "age": 52, "body_site": "back", "changed": False})


@dataclass(frozen=True)
class Deployment:
    replicas: tuple[str, str]  # base URLs
    org_id: str
    org_slug: str
    intake: str  # an intake key
    dermatologists: tuple[str, ...]  # their API keys
    sessions: object  # the test's own session factory (with the storage key)
    store: object  # the replicas' photo store, seen from the test
    local: Path  # the replicas' photo and model folders: must stay empty
    receiver: WebhookReceiver

    def other(self, base_url: str) -> str:
        return self.replicas[1] if base_url == self.replicas[0] else self.replicas[0]


@contextmanager
def deployment(s3_server, tmp_path: Path) -> Iterator[Deployment]:
    storage_key = base64.b64encode(os.urandom(32)).decode()
    s3 = s3_server.settings(s3_prefix="photos/", s3_sse="AES256")  # a new bucket, as in compose.yaml
    local = tmp_path / "replica-disk"
    with ExitStack() as stack:
        url = stack.enter_context(throwaway_postgres())
        env = service_env(
            url,
            local / "photos",  # not used: photo_store=s3
            **{name: str(value) for name, value in s3.items()},
            model_cache_dir=str(local / "models"),
            storage_key=storage_key,
            environment="production",
            web_secure_cookie="false",  # plain HTTP in the test
            migrate_on_start="false",
            deliver_events="false",
            event_poll_seconds="0.2",
            log_level="warning",
        )
        replicas = [ServiceProcess(env, tmp_path / f"replica-{n}.log").start() for n in (1, 2)]
        for replica in replicas:
            stack.callback(replica.stop)
        # while they start: the migration, once, as compose.yaml's migrate service (they are not
        # ready before it is done: /readyz says "migrations pending")
        dermatriage(env, "db", "upgrade")
        with (tmp_path / "worker.log").open("ab") as log:
            worker = subprocess.Popen([CLI, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)
        stack.callback(_stop, worker)

        settings = Settings(database_url=url, storage_key=storage_key, environment="production", **s3)
        engine = make_engine(url)
        stack.callback(engine.dispose)
        sessions = make_session_factory(engine, keyring=keyring_from(settings))
        org = make_org(sessions)
        others = [
            make_dermatologist(sessions, org.org_id, name=f"Dr. {n}") for n in range(DERMATOLOGISTS - 1)
        ]
        receiver = WebhookReceiver(sessions).start()
        stack.callback(receiver.stop)
        receiver.connect(org.org_id)  # its secret, sealed with the storage key, is opened by the worker
        for replica in replicas:
            replica.wait_ready()
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()
        yield Deployment(
            replicas=(replicas[0].base_url, replicas[1].base_url),
            org_id=org.org_id,
            org_slug=org.slug,
            intake=org.intake,
            dermatologists=(org.dermatologist, *others),
            sessions=sessions,
            store=photo_store_from(settings, keyring=None),
            local=local,
            receiver=receiver,
        )


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def at_once(works: list[Callable[[], object]]) -> list[object]:
    """Run every work on its own thread at once; their results, or the first exception."""
    with ThreadPoolExecutor(max_workers=len(works)) as pool:
        return [f.result(timeout=60) for f in [pool.submit(w) for w in works]]


def bearer(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


@pytest.mark.postgres
def test_two_replicas_and_a_worker_share_nothing_but_the_database_and_the_bucket(s3_server, tmp_path):
    started = time.monotonic()
    with deployment(s3_server, tmp_path) as d:
        up = time.monotonic()
        answers = _submit_through_both(d)
        _assert_one_case_per_key_and_every_object_named(d, answers)
        claims = _claim_and_close_through_both(d)
        _assert_each_case_claimed_once(d, claims, set(answers.values()))
        _assert_a_sign_in_holds_on_both(d)
        delivered = _assert_each_event_delivered_once(d)
    print(
        f"\ntwo replicas up in {up - started:.1f} s; {SUBMISSIONS} submissions, {len(claims)} claims by "
        f"{len({who for _, who in claims})} dermatologists, {delivered} events delivered once; "
        f"{time.monotonic() - started:.1f} s in all"
    )


# -- exactly-once intake -----------------------------------------------------------------------


def _submit(base_url: str, key: str, photo: bytes, api_key: str) -> tuple[int, str | None]:
    r = httpx.post(
        f"{base_url}/v1/cases",
        data={"questionnaire": QUESTIONNAIRE},
        files=[("photos", ("lesion.jpg", photo, "image/jpeg"))],
        headers=bearer(api_key, **{"Idempotency-Key": key}),
        timeout=60,
    )
    assert r.status_code in (200, 201), (r.status_code, r.text)
    return r.status_code, r.json()["id"]


def _submit_through_both(d: Deployment) -> dict[str, str]:
    """Every submission to both replicas at the same moment (and some once more); its key -> case."""
    statuses: dict[str, list[int]] = {}
    answers: dict[str, str] = {}

    def client(c: int) -> None:
        with ThreadPoolExecutor(max_workers=2) as pair:
            for i in range(c, SUBMISSIONS, CLIENTS):
                key, photo = f"two-replicas-{i}", good_jpeg(i, size=(480, 360))
                both = [pair.submit(_submit, base, key, photo, d.intake) for base in d.replicas]
                got = [f.result(timeout=60) for f in both]
                if i % RETRIED_EVERY == 0:  # a client that missed the answer asks again
                    got.append(_submit(d.replicas[i % 2], key, photo, d.intake))
                assert len({case_id for _, case_id in got}) == 1, (key, got)
                statuses[key] = sorted(status for status, _ in got)
                answers[key] = got[0][1]

    at_once([lambda c=c: client(c) for c in range(CLIENTS)])
    assert len(answers) == SUBMISSIONS
    # one answer made the case (201), every other one (the twin and the retry) replayed it (200)
    assert all(s == [200] * (len(s) - 1) + [201] for s in statuses.values()), statuses
    return answers


def _assert_one_case_per_key_and_every_object_named(d: Deployment, answers: dict[str, str]) -> None:
    with transaction(d.sessions) as session:
        records = dict(
            session.execute(
                select(IdempotencyRecord.key, IdempotencyRecord.case_id).where(
                    IdempotencyRecord.organization_id == d.org_id
                )
            ).all()
        )
        cases = set(session.scalars(select(Case.id).where(Case.organization_id == d.org_id)))
        photos = session.scalars(select(Photo).where(Photo.case_id.in_(cases))).all()
        created = Counter(
            session.scalars(select(AuditEvent.resource_id).where(AuditEvent.action == "case.create"))
        )
        referenced = referenced_keys(session)
    assert records == answers
    assert cases == set(answers.values())
    assert Counter(p.case_id for p in photos) == dict.fromkeys(cases, 1)
    assert created == dict.fromkeys(cases, 1)
    stored = set(d.store.iter_keys())
    assert stored == referenced  # every photo's objects there, and no orphan object
    for p in photos:
        assert d.store.read(p.storage_key) and d.store.read(p.thumbnail_key)  # read checks the SHA-256
    kept_locally = [p for p in d.local.rglob("*") if p.is_file()]
    assert kept_locally == [], "a replica kept files on its own disk"


# -- each case claimed once ----------------------------------------------------------------------


def _claim_and_close_through_both(d: Deployment) -> list[tuple[str, int]]:
    """Every dermatologist claims through one replica and closes through the other until nothing is
    left; (case, dermatologist) for every claim."""
    with transaction(d.sessions) as session:
        statuses = Counter(session.scalars(select(Case.status).where(Case.organization_id == d.org_id)))
    assert statuses == {"queued": SUBMISSIONS}

    def dermatologist(n: int) -> list[tuple[str, int]]:
        mine, key = [], d.dermatologists[n]
        with httpx.Client(timeout=30, headers=bearer(key)) as http:
            for turn in range(SUBMISSIONS + 1):
                claim_on = d.replicas[(n + turn) % 2]
                r = http.post(f"{claim_on}/v1/queue/claim")
                if r.status_code == 204:
                    return mine
                assert r.status_code == 200, r.text
                case_id = r.json()["case"]["id"]
                mine.append((case_id, n))
                closed = http.post(f"{d.other(claim_on)}/v1/cases/{case_id}/close", json={"reason": "seen"})
                assert closed.status_code == 200, closed.text  # the lease holds on the other replica
        raise AssertionError("the queue never ran out")

    return [
        claim
        for mine in at_once([lambda n=n: dermatologist(n) for n in range(DERMATOLOGISTS)])
        for claim in mine
    ]


def _assert_each_case_claimed_once(d: Deployment, claims: list[tuple[str, int]], cases: set[str]) -> None:
    per_case = Counter(case_id for case_id, _ in claims)
    assert set(per_case) == cases and set(per_case.values()) == {1}
    assert len({who for _, who in claims}) > 1  # really concurrent
    for base in d.replicas:
        assert httpx.post(f"{base}/v1/queue/claim", headers=bearer(d.dermatologists[0])).status_code == 204
    with transaction(d.sessions) as session:
        statuses = Counter(session.scalars(select(Case.status).where(Case.organization_id == d.org_id)))
        audited = Counter(
            session.scalars(select(AuditEvent.resource_id).where(AuditEvent.action == "case.claim"))
        )
    assert statuses == {"closed": SUBMISSIONS}
    assert audited == dict.fromkeys(cases, 1)


# -- a sign-in holds on every replica --------------------------------------------------------------


def _assert_a_sign_in_holds_on_both(d: Deployment) -> None:
    with_password(d.sessions, d.org_id, login="replicas")
    first, second = d.replicas
    with httpx.Client(timeout=30) as browser:  # one browser: cookies are per host, not per port
        form = browser.get(f"{first}/sign-in")
        signed = browser.post(
            f"{second}/sign-in",  # the form's token (a double-submit cookie) is good on the other one
            data={
                "csrf_token": CSRF_FIELD.search(form.text).group(1),
                "organization": d.org_slug,
                "login": "replicas",
                "password": PASSWORD,
                "next": "",
            },
        )
        assert signed.status_code == 303 and browser.cookies.get(SESSION_COOKIE), signed.text
        page = browser.get(f"{first}/queue")
        assert page.status_code == 200, "the session made on one replica is unknown to the other"
        token = CSRF_META.search(page.text).group(1)  # the session's CSRF token, from the other replica
        assert browser.post(f"{second}/sign-out", data={"csrf_token": token}).status_code == 303
        assert browser.get(f"{first}/queue").status_code == 303  # signed out everywhere


# -- each event delivered once ---------------------------------------------------------------------


def _feed(d: Deployment) -> list[dict]:
    """The organization's whole feed, its pages read from one replica and then the other."""
    events, cursor, page = [], 0, 0
    while True:
        base = d.replicas[page % 2]
        r = httpx.get(f"{base}/v1/events", params={"after": cursor, "limit": 7}, headers=bearer(d.intake))
        assert r.status_code == 200, r.text
        body = r.json()
        events += body["events"]
        cursor, page = body["next_cursor"], page + 1
        if not body["has_more"]:
            return events


def _assert_each_event_delivered_once(d: Deployment) -> int:
    deadline = time.monotonic() + 30
    while True:
        feed = _feed(d)
        states = Counter(e["delivery"]["state"] for e in feed)
        if set(states) == {"delivered"} or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert states == {"delivered": len(feed)}, states
    ids = [e["id"] for e in feed]
    assert len(set(ids)) == len(ids) and Counter(e["type"] for e in feed)["case.closed"] == SUBMISSIONS
    time.sleep(0.5)  # a worker that was to send one twice has had passes to do it
    deliveries = d.receiver.deliveries(d.org_id)
    assert all(r.signature_valid and r.accepted for r in deliveries)
    assert Counter(r.event["id"] for r in deliveries) == dict.fromkeys(ids, 1)
    return len(ids)

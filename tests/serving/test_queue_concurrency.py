"""PostgreSQL: 20 dermatologists claiming at once from 500 queued cases. No case is ever held
by two of them, and the queue drains (each case handed out once, plus the re-claims of the
cases some of them release)."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict

import pytest
from conftest import make_dermatologist, make_org
from queue_cases import queue_cases, run_concurrently
from sqlalchemy import select
from test_queue_leases import client_for

from serving.audit import AuditEvent
from serving.cases.models import Case
from serving.db import make_engine, make_session_factory, transaction
from serving.queue import service

CLAIMERS = 20
CASES = 500
RELEASE_EVERY = 10  # each claimer puts every 10th case it gets back in the queue


@pytest.mark.postgres
def test_concurrent_claimers_never_share_a_case_and_drain_the_queue(postgres_url):
    engine = make_engine(postgres_url)
    sessions = make_session_factory(engine)
    try:
        org = make_org(sessions)
        clients = [
            client_for(sessions, make_dermatologist(sessions, org.org_id, name=f"Dr. {i}"))
            for i in range(CLAIMERS)
        ]
        queue_cases(sessions, org.org_id, CASES)

        claims: list[tuple[str, str]] = []  # (case, holder), every successful claim
        released: list[str] = []
        errors: list[BaseException] = []
        lock = threading.Lock()
        start = threading.Barrier(CLAIMERS)

        def work(client) -> None:
            try:
                start.wait()
                mine = 0
                while True:
                    with transaction(sessions) as s:
                        case = service.claim_next(s, client=client)
                        case_id = case.id if case else None
                    if case_id is None:
                        return
                    mine += 1
                    with lock:
                        claims.append((case_id, client.user_id))
                    if mine % RELEASE_EVERY == 0:
                        with transaction(sessions) as s:
                            service.release(s, client=client, case_id=case_id, reason="test")
                        with lock:
                            released.append(case_id)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        run_concurrently([lambda c=c: work(c) for c in clients], "claimers")
        assert errors == []

        # the queue drained: every case claimed, re-claimed once for each release
        per_case = Counter(case_id for case_id, _ in claims)
        assert len(per_case) == CASES
        assert len(claims) == CASES + len(released)
        assert all(per_case[c] == 1 + released.count(c) for c in per_case)
        assert len({holder for _, holder in claims}) > 1  # really concurrent

        last_holder = {}
        for case_id, holder in claims:
            last_holder[case_id] = holder  # order within a case is the claim order (row lock)
        with transaction(sessions) as s:
            rows = s.execute(
                select(Case.id, Case.status, Case.assigned_to).where(Case.organization_id == org.org_id)
            )
            final = {r.id: (r.status, r.assigned_to) for r in rows}
            # in the audit log, each case alternates claim -> release -> claim ...: never two holders
            history = defaultdict(list)
            for e in s.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.organization_id == org.org_id,
                    AuditEvent.action.in_(("case.claim", "case.release")),
                )
                .order_by(AuditEvent.id)
            ):
                history[e.resource_id].append((e.action, e.actor_user_id))
        assert {status for status, _ in final.values()} == {"in_review"}
        for case_id, events in history.items():
            actions = [a for a, _ in events]
            assert actions == ["case.claim", "case.release"] * (len(actions) // 2) + ["case.claim"], case_id
            for (_, who), (_, by) in zip(events[::2], events[1::2], strict=False):
                assert by == who, f"{case_id} released by someone who did not hold it"
            assert final[case_id][1] == events[-1][1]
        with transaction(sessions) as s:
            assert service.claim_next(s, client=clients[0]) is None
    finally:
        engine.dispose()

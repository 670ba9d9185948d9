"""Queued cases for the queue tests, inserted in bulk (not through the photo intake, which the
intake tests cover): each is a triaged case as intake leaves it, with no photo."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import insert

from serving.cases.models import Case
from serving.db import transaction, utcnow


def case_row(
    org_id: str,
    *,
    jurisdiction: str = "US-CA",
    tier: str = "ROUTINE",
    urgency: float = 0.2,
    due_in: timedelta = timedelta(hours=48),
    age: timedelta = timedelta(minutes=5),
    status: str = "queued",
    now: datetime | None = None,
    **extra,
) -> dict:
    now = now or utcnow()
    created = now - age
    return {
        "id": str(uuid.uuid4()),
        "organization_id": org_id,
        "status": status,
        "jurisdiction": jurisdiction,
        "questionnaire": {"jurisdiction": jurisdiction, "body_site": "back"},
        "submitted_by": {"role": "patient"},
        "created_at": created,
        "updated_at": created,
        "tier": tier,
        "urgency_score": urgency,
        "retake_required": False,
        "reasons": ["test case"],
        "patient_advice": [],
        "model_versions": {"urgency_rules": "test"},
        "triaged_at": created,
        "queued_at": created,
        "review_due_at": now + due_in,
        **extra,
    }


def insert_cases(sessions, rows: list[dict]) -> list[str]:
    """One executemany INSERT; returns the ids in the given order."""
    with transaction(sessions) as session:
        session.execute(insert(Case), rows)
    return [r["id"] for r in rows]


def queue_cases(sessions, org_id: str, n: int, **kwargs) -> list[str]:
    return insert_cases(sessions, [case_row(org_id, **kwargs) for _ in range(n)])


def run_concurrently(works: list[Callable[[], None]], what: str) -> None:
    """Start every work on its own thread at once and wait for all of them (60 s at most)."""
    threads = [threading.Thread(target=work) for work in works]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), f"{what} did not finish"

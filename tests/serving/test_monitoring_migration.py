"""Migration 0011: existing cases get their tier at submission from their ``case.create`` audit row
(else their current tier), new rows take their tier when inserted without one, and the downgrade
drops the column again; on SQLite and PostgreSQL."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from alembic import command
from conftest import throwaway_postgres
from queue_cases import case_row, insert_cases
from sqlalchemy import create_engine, inspect, text

from serving.db import make_engine, make_session_factory
from serving.migrations import alembic_config, upgrade


@contextmanager
def _sqlite(tmp_path):
    yield f"sqlite:///{tmp_path / 'm.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request, tmp_path):
    with _sqlite(tmp_path) if request.param == "sqlite" else throwaway_postgres() as url:
        yield url


def _case(conn, case_id: str, tier: str) -> None:
    conn.execute(
        text(
            "INSERT INTO cases (id, organization_id, status, jurisdiction, questionnaire, submitted_by, "
            "created_at, updated_at, tier, urgency_score, retake_required, reasons, patient_advice, "
            "model_versions, triaged_at) VALUES (:id, 'o1', 'queued', 'US-CA', '{}', '{}', :t, :t, :tier, "
            "0.5, false, '[]', '[]', '{}', :t)"
        ),
        {"id": case_id, "tier": tier, "t": "2026-01-01T00:00:00+00:00"},
    )


def _audit(conn, case_id: str, outcome: str, detail: str | None) -> None:
    conn.execute(
        text(
            "INSERT INTO audit_events (at, action, resource_type, resource_id, outcome, detail) "
            "VALUES (:t, 'case.create', 'case', :id, :outcome, :detail)"
        ),
        {"t": "2026-01-01T00:00:00+00:00", "id": case_id, "outcome": outcome, "detail": detail},
    )


def test_0011_backfills_the_tier_at_submission_and_downgrades(empty_url):
    upgrade(empty_url, "0010")
    engine = create_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO organizations (id, slug, name, sla_hours, created_at) "
                "VALUES ('o1', 'o1', 'O', '{}', '2026-01-01T00:00:00+00:00')"
            )
        )
        _case(conn, "retaken", "URGENT")  # submitted PRIORITY, triaged URGENT after a retake
        _case(conn, "unchanged", "ROUTINE")
        _case(conn, "conflict-only", "PRIORITY")  # its only audit row is a refused replay
        _audit(conn, "retaken", "ok", '{"photos": 1, "tier": "PRIORITY", "status": "queued"}')
        _audit(conn, "unchanged", "ok", '{"photos": 1, "tier": "ROUTINE", "status": "queued"}')
        _audit(conn, "conflict-only", "idempotency_conflict", None)
    upgrade(empty_url)
    with engine.begin() as conn:
        rows = dict(conn.execute(text("SELECT id, submitted_tier FROM cases")).all())
    assert rows == {"retaken": "PRIORITY", "unchanged": "ROUTINE", "conflict-only": "PRIORITY"}

    # a row inserted without it (bulk inserts of the tests) takes its tier
    orm_engine = make_engine(empty_url)
    (case_id,) = insert_cases(make_session_factory(orm_engine), [case_row("o1", tier="URGENT")])
    orm_engine.dispose()
    with engine.begin() as conn:
        assert conn.execute(
            text("SELECT submitted_tier FROM cases WHERE id = :id"), {"id": case_id}
        ).scalar() == ("URGENT")

    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0010")
    assert "submitted_tier" not in {c["name"] for c in inspect(engine).get_columns("cases")}
    engine.dispose()

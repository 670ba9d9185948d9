"""Migrations 0009 (patients, lesions, the cases' links to them) and 0010 (pathology results) go back:
on a database at head holding a patient, a lesion, a case linked to both with a pathology result and a
case without a patient, a downgrade to 0008 leaves exactly the schema a database migrated only to 0008
has (tables, columns, indexes, foreign keys), and every case with its data; upgrading again brings the
tables back, empty, and the cases take new links and results. On SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path

import pytest
from alembic import command
from conftest import make_org, throwaway_postgres
from queue_cases import case_row, insert_cases
from sqlalchemy import inspect, select, text, update

from serving.cases.models import Case
from serving.consults.models import PathologyResult
from serving.db import make_engine, make_session_factory, transaction, utcnow
from serving.migrations import alembic_config, upgrade
from serving.patients.models import Lesion, Patient

BEFORE_PATIENTS = "0008"
NEW_TABLES = {"patients", "lesions", "pathology_results"}
NEW_CASE_COLUMNS = {"patient_id", "lesion_id"}
#: what each case must keep through the round trip
KEPT = ("id", "organization_id", "status", "tier", "urgency_score", "jurisdiction", "questionnaire")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request, tmp_path: Path) -> Iterator:
    """``new(name)``: the URL of a new, empty database of this test's own (a SQLite file, or a new
    PostgreSQL database, dropped afterwards)."""
    with ExitStack() as stack:

        def new(name: str) -> str:
            if request.param == "sqlite":
                return f"sqlite:///{tmp_path / name}.db"
            return stack.enter_context(throwaway_postgres())

        yield new


def downgrade(engine, revision: str) -> None:
    with engine.connect() as conn:
        command.downgrade(alembic_config(conn), revision)
        conn.commit()


def schema(engine) -> dict:
    """Every table's columns (name, type, nullable), indexes and foreign keys, comparable across two
    databases (constraint names included, types as the dialect reports them)."""
    inspector = inspect(engine)
    out = {}
    for table in sorted(inspector.get_table_names()):
        columns = sorted((c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table))
        indexes = sorted(
            (i["name"], tuple(i["column_names"] or ()), tuple(i.get("expressions") or ()), bool(i["unique"]))
            for i in inspector.get_indexes(table)
        )
        fks = sorted(
            (f["name"] or "", tuple(f["constrained_columns"]), f["referred_table"])
            for f in inspector.get_foreign_keys(table)
        )
        out[table] = {"columns": columns, "indexes": indexes, "foreign_keys": fks}
    out["index definitions"] = index_definitions(engine)
    return out


def index_definitions(engine) -> list[tuple[str, str]]:
    """Each index's own statement (sort orders included: the queue's index has ``urgency_score DESC``,
    which the inspector does not tell)."""
    if engine.dialect.name == "sqlite":
        query = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    else:
        query = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
    with engine.connect() as conn:
        return sorted(tuple(row) for row in conn.execute(text(query)))


def version(engine) -> str:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT version_num FROM alembic_version"))


def cases_kept(engine) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT {', '.join(KEPT)} FROM cases ORDER BY id")).all()
    return [tuple(r) for r in rows]


def test_0009_and_0010_go_back_to_0008_keeping_the_cases_and_come_again(empty_database):
    reference_url = empty_database("at-0008")
    upgrade(reference_url, BEFORE_PATIENTS)
    reference = make_engine(reference_url)
    expected = schema(reference)
    reference.dispose()

    url = empty_database("round-trip")
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    org = make_org(sessions, slug="round-trip")
    linked, alone = insert_cases(
        sessions,
        [
            case_row(org.org_id, status="closed", tier="URGENT", urgency=0.81, age=timedelta(days=3)),
            case_row(org.org_id, jurisdiction="US-NY"),
        ],
    )
    with transaction(sessions) as session:
        patient = Patient(
            organization_id=org.org_id, external_id="emr-9", birth_year=1970, display_name="Dee"
        )
        session.add(patient)
        session.flush()
        lesion = Lesion(organization_id=org.org_id, patient_id=patient.id, label="Mole", label_key="mole")
        session.add(lesion)
        session.flush()
        session.execute(
            update(Case).where(Case.id == linked).values(patient_id=patient.id, lesion_id=lesion.id)
        )
        session.add(
            PathologyResult(
                organization_id=org.org_id,
                case_id=linked,
                icd10_code="C44.91",
                icd10_title="Basal cell carcinoma of skin, unspecified",
                reported_on=date.today(),
                report="Nodular BCC.",
            )
        )
    before = cases_kept(engine)
    assert len(before) == 2 and schema(engine) != expected  # at head: 0009 and 0010 added their parts

    downgrade(engine, BEFORE_PATIENTS)
    engine.dispose()  # new connections after the DDL
    engine = make_engine(url)
    assert version(engine) == BEFORE_PATIENTS
    after = schema(engine)
    assert not NEW_TABLES & set(after)
    assert not NEW_CASE_COLUMNS & {name for name, _, _ in after["cases"]["columns"]}
    assert not [i for i in after["cases"]["indexes"] if set(i[1]) & NEW_CASE_COLUMNS]
    assert after == expected  # exactly 0008's schema: nothing else lost on the way (indexes included)
    assert cases_kept(engine) == before  # every case, with its data

    upgrade(url)
    assert version(engine) != BEFORE_PATIENTS
    assert set(inspect(engine).get_table_names()) >= NEW_TABLES
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        assert (
            session.scalars(select(Patient)).all() == []
            and session.scalars(select(PathologyResult)).all() == []
        )
        assert {c.id: (c.patient_id, c.lesion_id) for c in session.scalars(select(Case))} == {
            linked: (None, None),
            alone: (None, None),
        }
        patient = Patient(organization_id=org.org_id, external_id="emr-9")
        session.add(patient)
        session.flush()
        session.execute(update(Case).where(Case.id == linked).values(patient_id=patient.id))
        session.add(
            PathologyResult(
                organization_id=org.org_id,
                case_id=linked,
                icd10_code="D22.9",
                icd10_title="Melanocytic nevi, unspecified",
                reported_on=utcnow().date(),
            )
        )
    assert cases_kept(engine) == before
    engine.dispose()

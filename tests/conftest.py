"""Shared fixtures: a database per backend (SQLite always, PostgreSQL when reachable), the app,
organizations with keys.

PostgreSQL: ``DERMATRIAGE_TEST_POSTGRES_URL`` (default: the local server, database ``test``).
Each test session creates its own throw-away database there and drops it at the end. Under CI
(``CI=true``) an unreachable PostgreSQL fails the run instead of skipping those tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_sources import make_fake_data
from fastapi.testclient import TestClient
from live_service import throwaway_database
from sqlalchemy import create_engine, text

from data_pipelines.build import build_manifest
from data_pipelines.manifest import read_manifest
from serving.app import create_app
from serving.cli import main
from serving.db import make_engine, make_session_factory, transaction
from serving.migrations import upgrade
from serving.orgs.models import Organization
from serving.orgs.service import Role, create_org, issue_key
from serving.people.service import create_user
from serving.settings import Settings

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _postgres_admin_url() -> str:
    return os.environ.get("DERMATRIAGE_TEST_POSTGRES_URL", PG_DEFAULT)


def _postgres_reachable(url: str) -> bool:
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001
        return False


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A new, empty database on the test PostgreSQL, dropped afterwards; skips (fails under CI) when
    none answers."""
    admin_url = _postgres_admin_url()
    if not _postgres_reachable(admin_url):
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {admin_url}; CI must test on it")
        pytest.skip("PostgreSQL is not reachable")
    with throwaway_database(admin_url) as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with throwaway_postgres() as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'dermatriage.db'}"
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request) -> str:
    """Runs the test once per backend."""
    return request.getfixturevalue(f"{request.param}_url")


def service_settings(database_url: str, photo_dir: Path, **overrides) -> Settings:
    """The service's settings in a test: the database given, migrated already, rules only and the
    classical checks (tests of a learned model load their own), no background delivery (tests deliver
    with deliver_due(); the background task has its own test)."""
    defaults = {"urgency_model": "none", "quality_model": "none", "deliver_events": False}
    return Settings(
        environment="test",
        database_url=database_url,
        photo_dir=photo_dir,
        migrate_on_start=False,
        **{**defaults, **overrides},
    )


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return service_settings(database_url, tmp_path / "photos")


def cli_runner(env: dict[str, str]):
    """``run(*args)``: the ``dermatriage`` command line with ``env``, which must succeed."""
    runner = CliRunner()

    def run(*args: str):
        result = runner.invoke(main, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    return run


@pytest.fixture
def sessions(database_url: str):
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


@dataclass(frozen=True)
class OrgKeys:
    org_id: str
    slug: str
    intake: str
    dermatologist: str
    admin: str

    def headers(self, role: str = "intake", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, role)}", **extra}


#: where the dermatologist of make_org() is licensed
DEFAULT_LICENCES = ("US-CA", "US-NY", "US-TX", "US")


def make_org(sessions, slug: str | None = None) -> OrgKeys:
    """An organization with an intake key, a dermatologist (a user licensed in DEFAULT_LICENCES)
    and an admin (a user), each with a key."""
    slug = slug or f"org-{uuid.uuid4().hex[:10]}"
    with transaction(sessions) as session:
        org = create_org(session, slug=slug, name=slug.title())
        intake = issue_key(session, org=org, role=Role.intake).key
        dermatologist = create_user(
            session, org=org, name="Dr. Default", role="dermatologist", jurisdictions=DEFAULT_LICENCES
        ).key
        admin = create_user(session, org=org, name="Admin", role="admin").key
    return OrgKeys(org_id=org.id, slug=slug, intake=intake, dermatologist=dermatologist, admin=admin)


def make_dermatologist(
    sessions, org_id: str, jurisdictions: tuple[str, ...] = DEFAULT_LICENCES, name: str = "Dr. Other"
) -> str:
    """Another dermatologist of the organization; returns their API key."""
    with transaction(sessions) as session:
        org = session.get(Organization, org_id)
        return create_user(session, org=org, name=name, role="dermatologist", jurisdictions=jurisdictions).key


@pytest.fixture
def org(sessions) -> OrgKeys:
    return make_org(sessions)


@pytest.fixture
def other_org(sessions) -> OrgKeys:
    return make_org(sessions)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


# --- the data layer: a fake data folder (fake_sources.py) and its built manifest ---


@pytest.fixture
def fake_data(tmp_path: Path) -> Path:
    return make_fake_data(tmp_path / "data")


@pytest.fixture
def built(fake_data: Path, tmp_path: Path):
    result = build_manifest(fake_data, tmp_path / "out" / "manifest.csv", k_folds=3, progress=False)
    return result, read_manifest(result.path)

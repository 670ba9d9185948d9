"""The command line: keys are printed once and work; SLAs can be set; the database upgrades."""

from __future__ import annotations

from click.testing import CliRunner
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.cli import main, operations
from serving.settings import Settings


def _run(args, env):
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_keys_create_prints_a_working_key_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {"DATABASE_URL": url, "DERMATRIAGE_PHOTO_DIR": str(tmp_path / "photos")}
    _run(["db", "upgrade"], env)
    key = _run(["keys", "create", "--org", "sunrise-derm", "--role", "intake", "--label", "patient app"], env)
    secret = key.stdout.strip()
    assert secret.startswith("dtk_") and len(secret) > 40
    listing = _run(["keys", "list", "--org", "sunrise-derm"], env).stdout
    assert "intake" in listing and "patient app" in listing
    assert secret not in listing  # never shown again

    settings = Settings(database_url=url, photo_dir=tmp_path / "photos")
    with TestClient(create_app(settings)) as client:
        r = client.get("/v1/cases/none", headers={"Authorization": f"Bearer {secret}"})
        assert r.status_code == 404  # authenticated, and the case does not exist

        prefix = secret.split("_")[1]
        _run(["keys", "revoke", "--org", "sunrise-derm", prefix], env)
        r = client.get("/v1/cases/none", headers={"Authorization": f"Bearer {secret}"})
        assert r.status_code == 401


def test_sla_is_shown_set_and_validated(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    _run(["orgs", "create", "--slug", "north-clinic"], env)
    assert "URGENT     4 h" in _run(["orgs", "sla", "--org", "north-clinic"], env).stdout
    assert "URGENT     2 h" in _run(["orgs", "sla", "--org", "north-clinic", "URGENT=2"], env).stdout
    bad = CliRunner().invoke(main, ["orgs", "sla", "--org", "north-clinic", "URGENT=100"], env=env)
    assert bad.exit_code != 0


def test_serve_gives_busy_workers_time_to_answer_their_supervisor(monkeypatch, tmp_path):
    """uvicorn kills a worker that leaves its health check unanswered for 5 s (its default): a worker
    starting up or decoding photos on a loaded machine does (bench/api_throughput.py saw workers
    replaced); ``serve`` allows 30 s, or ``--worker-timeout``."""
    calls = []
    monkeypatch.setattr(operations.uvicorn, "run", lambda app, **options: calls.append(options))
    monkeypatch.setattr(operations, "configure_logging", lambda settings: None)
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "DERMATRIAGE_PHOTO_DIR": str(tmp_path / "p")}
    _run(["serve", "--workers", "2"], env)
    _run(["serve", "--workers", "2", "--worker-timeout", "90"], env)
    assert [(c["workers"], c["timeout_worker_healthcheck"]) for c in calls] == [(2, 30), (2, 90)]

"""People: dermatologists and admins, their keys, licences and deactivation; the CLI and the API."""

from __future__ import annotations

import uuid

import pytest
from click.testing import CliRunner
from conftest import cli_runner
from fastapi.testclient import TestClient
from sqlalchemy import select

from serving.app import create_app
from serving.audit import AuditEvent
from serving.cli import main
from serving.db import make_engine, make_session_factory, transaction
from serving.orgs.models import ApiKey
from serving.orgs.service import create_org
from serving.people.service import PeopleError, create_user, normalize_jurisdictions
from serving.settings import Settings


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_jurisdictions_are_iso_codes():
    assert normalize_jurisdictions(["us-ca", "US-NY", "US-CA", " US "]) == ["US", "US-CA", "US-NY"]
    for bad in (["California"], ["US_CA"], ["U"], "US-CA"):
        with pytest.raises(PeopleError) as exc:
            normalize_jurisdictions(bad)
        assert exc.value.field == "jurisdictions"


def test_create_user_validates_and_links_a_key(sessions):
    with transaction(sessions) as s:
        org = create_org(s, slug=f"people-{uuid.uuid4().hex[:10]}")
        with pytest.raises(PeopleError, match="at least one jurisdiction"):
            create_user(s, org=org, name="Dr. Nowhere", role="dermatologist")
        with pytest.raises(PeopleError, match="role"):
            create_user(s, org=org, name="Nurse", role="nurse", jurisdictions=["US-CA"])
        with pytest.raises(PeopleError, match="name"):
            create_user(s, org=org, name="  ", role="admin")
        issued = create_user(s, org=org, name="Dr. Ada", role="dermatologist", jurisdictions=["us-ca"])
        key = s.scalar(select(ApiKey).where(ApiKey.user_id == issued.user.id))
        assert key.role == "dermatologist" and issued.key.startswith("dtk_")
        assert issued.user.jurisdictions == ["US-CA"]


def test_me_users_and_deactivation_through_the_api(client, org):
    me = client.get("/v1/me", headers=org.headers("dermatologist")).json()
    assert me["key_role"] == "dermatologist" and me["user"]["jurisdictions"] == [
        "US",
        "US-CA",
        "US-NY",
        "US-TX",
    ]
    assert client.get("/v1/me", headers=org.headers("intake")).json()["user"] is None

    body = {"name": "Dr. Grace", "role": "dermatologist", "jurisdictions": ["US-WA"]}
    assert client.post("/v1/users", json=body, headers=org.headers("dermatologist")).status_code == 403
    bad = client.post(
        "/v1/users", json=body | {"jurisdictions": ["Washington"]}, headers=org.headers("admin")
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "jurisdictions"
    r = client.post("/v1/users", json=body, headers=org.headers("admin"))
    assert r.status_code == 201, r.text
    created, key = r.json()["user"], r.json()["api_key"]
    assert client.get("/v1/me", headers=_bearer(key)).json()["user"]["id"] == created["id"]
    listed = client.get("/v1/users", headers=org.headers("admin")).json()
    assert {u["name"] for u in listed} == {"Dr. Default", "Admin", "Dr. Grace"}

    r = client.post(f"/v1/users/{created['id']}/deactivate", headers=org.headers("admin"))
    assert r.status_code == 200 and r.json()["active"] is False
    assert client.get("/v1/me", headers=_bearer(key)).status_code == 401
    assert client.post("/v1/users/nope/deactivate", headers=org.headers("admin")).status_code == 404


def test_cli_creates_a_dermatologist_whose_key_works(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {"DATABASE_URL": url, "DERMATRIAGE_PHOTO_DIR": str(tmp_path / "photos")}
    run = cli_runner(env)

    run("orgs", "create", "--slug", "sunrise-derm")
    made = run(
        "users", "create", "--org", "sunrise-derm", "--name", "Dr. Ada", "--role", "dermatologist",
        "--jurisdiction", "US-CA", "--jurisdiction", "us-ny",
    )  # fmt: skip
    key = made.stdout.strip()
    assert key.startswith("dtk_") and "\n" not in key
    listing = run("users", "list", "--org", "sunrise-derm").stdout
    assert "Dr. Ada" in listing and "US-CA US-NY" in listing and key not in listing
    refused = CliRunner().invoke(
        main, ["users", "create", "--org", "sunrise-derm", "--name", "X", "--role", "dermatologist"], env=env
    )
    assert refused.exit_code != 0 and "jurisdiction" in refused.output

    settings = Settings(database_url=url, photo_dir=tmp_path / "photos")
    with TestClient(create_app(settings)) as client:
        me = client.get("/v1/me", headers=_bearer(key)).json()
        assert me["user"]["name"] == "Dr. Ada" and me["user"]["jurisdictions"] == ["US-CA", "US-NY"]
        assert client.get("/v1/queue", headers=_bearer(key)).status_code == 200
        run("users", "deactivate", "--org", "sunrise-derm", me["user"]["id"])
        assert client.get("/v1/queue", headers=_bearer(key)).status_code == 401
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as s:
        actions = set(s.scalars(select(AuditEvent.action)))
    engine.dispose()
    assert {"user.create", "user.deactivate"} <= actions

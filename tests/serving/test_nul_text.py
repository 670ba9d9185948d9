"""Text with a NUL character (U+0000) cannot be stored by PostgreSQL: it used to answer 500 there while
SQLite stored it. Both backends now refuse it with the same 422 (serving.db refuses it before any
statement runs), and nothing is written."""

from __future__ import annotations

from sqlalchemy import func, select

from serving.orgs.models import Organization
from serving.people.models import User


def test_a_nul_in_a_path_id_is_a_422_not_a_server_error(client, org) -> None:
    response = client.get("/v1/cases/a%00b", headers=org.headers("dermatologist"))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_text"
    assert "NUL" in response.json()["error"]["fix"]


def test_a_nul_in_a_stored_text_is_refused_and_nothing_is_written(client, org, sessions) -> None:
    response = client.put(
        "/v1/webhook", json={"url": "https://example.org/hook\u0000x"}, headers=org.headers("admin")
    )
    assert response.status_code == 422, response.text
    response = client.post(
        "/v1/users", json={"name": "Dr. \u0000", "role": "admin"}, headers=org.headers("admin")
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] in ("invalid_text", "invalid_field")
    with sessions() as session:
        assert (
            session.scalar(select(func.count()).select_from(User).where(User.organization_id == org.org_id))
            == 2
        )
        assert session.get(Organization, org.org_id).webhook_url is None

"""A session that ends on its own says so (issue 15, bug 5): the sign-in page names the idle timeout and
what happens to a held case, and signing in again returns to the page the user was on (a GET's path,
a POST's same-origin Referer), never to another site."""

from __future__ import annotations

import html as htmllib
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import service_settings
from consults_support import in_review
from fastapi.testclient import TestClient
from web_support import CSRF_FIELD, PASSWORD, csrf, default_dermatologist, sign_in

from serving.app import create_app
from serving.db import transaction
from serving.web.auth_web import SESSION_COOKIE
from serving.web.models import WebSession
from serving.web.routes_auth import safe_next


def _idle(sessions, minutes: float = 31) -> None:
    """Every open session was last used ``minutes`` ago."""
    with transaction(sessions) as session:
        for row in session.query(WebSession).filter(WebSession.ended_at.is_(None)):
            row.last_seen_at = row.last_seen_at - timedelta(minutes=minutes)
            row.created_at = row.created_at - timedelta(minutes=minutes)


def _next_of(location: str) -> tuple[str, dict]:
    query = parse_qs(urlsplit(location).query)
    return query["next"][0], query


def test_an_idle_session_sends_to_sign_in_with_the_reason_and_back(client, org, sessions):
    case_id = in_review(client, org)
    default_dermatologist(sessions, org.org_id)
    sign_in(client, org.slug, "derm")
    assert client.get(f"/cases/{case_id}").status_code == 200
    _idle(sessions)

    r = client.get(f"/cases/{case_id}?tab=record", follow_redirects=False)
    assert r.status_code == 303
    target, query = _next_of(r.headers["location"])
    assert target == f"/cases/{case_id}?tab=record" and query["ended"] == ["idle"]
    page = client.get(r.headers["location"])
    text = htmllib.unescape(page.text)
    assert "Your session ended after 30 minutes without activity" in text
    assert "stays yours until its lease runs out (30 minutes" in text
    assert f'name="next" value="/cases/{case_id}?tab=record"' in text

    token = CSRF_FIELD.search(page.text).group(1)
    r = client.post(
        "/sign-in",
        data={
            "csrf_token": token,
            "organization": org.slug,
            "login": "derm",
            "password": PASSWORD,
            "next": f"/cases/{case_id}?tab=record",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{case_id}?tab=record"


def test_a_form_sent_after_the_timeout_returns_to_its_case(client, org, sessions):
    case_id = in_review(client, org)
    default_dermatologist(sessions, org.org_id)
    sign_in(client, org.slug, "derm")
    token = csrf(client, f"/cases/{case_id}")
    _idle(sessions)
    r = client.post(
        f"/cases/{case_id}/messages",
        data={"csrf_token": token, "body": "How is it now?"},
        headers={"Referer": f"http://testserver/cases/{case_id}", "Host": "testserver"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    target, query = _next_of(r.headers["location"])
    assert target == f"/cases/{case_id}" and query["ended"] == ["idle"]
    # a Referer of another site is never where a sign-in goes
    sign_in(client, org.slug, "derm")
    _idle(sessions)
    r = client.post(
        f"/cases/{case_id}/messages",
        data={"csrf_token": token, "body": "x"},
        headers={"Referer": "https://evil.example/cases/x"},
        follow_redirects=False,
    )
    assert _next_of(r.headers["location"])[0] == "/queue"


def test_without_a_session_the_sign_in_page_says_nothing_of_an_ending(client):
    r = client.get("/queue", follow_redirects=False)
    target, query = _next_of(r.headers["location"])
    assert target == "/queue" and "ended" not in query
    assert "without activity" not in client.get(r.headers["location"]).text


def test_a_signed_out_session_is_not_called_idle(client, org, sessions):
    default_dermatologist(sessions, org.org_id)
    sign_in(client, org.slug, "derm")
    token = csrf(client)
    cookie = client.cookies.get(SESSION_COOKIE)
    client.post("/sign-out", data={"csrf_token": token})
    client.cookies.set(SESSION_COOKIE, cookie)  # a stale cookie of that session comes back later
    r = client.get("/queue", follow_redirects=False)
    assert "ended" not in _next_of(r.headers["location"])[1]


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "/\\/evil.example",
        "javascript:alert(1)",
        "/cases/x\r\nSet-Cookie: a=b",
        "queue",
    ],
)
def test_next_is_a_path_of_this_site_only(target):
    assert safe_next(target) == "/queue"


def test_stay_signed_in_restarts_the_idle_clock(database_url, tmp_path, org, sessions):
    settings = service_settings(database_url, tmp_path / "photos", web_idle_minutes=2)
    with TestClient(create_app(settings)) as client:
        default_dermatologist(sessions, org.org_id)
        sign_in(client, org.slug, "derm")
        page = client.get("/queue").text
        assert '<meta name="session-seconds-left" content="1' in page  # about 120
        _idle(sessions, minutes=1.5)
        r = client.get("/session/ping")
        assert r.status_code == 200 and 110 <= r.json()["seconds_left"] <= 120
        assert r.headers["cache-control"] == "no-store"
        _idle(sessions, minutes=2.5)
        r = client.get("/session/ping", follow_redirects=False)
        assert r.status_code == 303 and "ended=idle" in r.headers["location"]
        assert "Your session ended after 2 minutes without activity" in client.get(r.headers["location"]).text

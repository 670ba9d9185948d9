"""Signing in to the pages: argon2 passwords, the session cookie and its expiry, CSRF, the lockout,
sign-out, and the audit rows of each (on SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import os
from datetime import timedelta

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select, update
from web_support import CSRF_FIELD, PASSWORD, csrf, default_dermatologist, sign_in, with_password

from serving.app import create_app
from serving.audit import Actor, AuditEvent
from serving.cli import main
from serving.db import transaction, utcnow
from serving.orgs.models import Organization
from serving.people.models import User
from serving.queue.staff import deactivate_user
from serving.settings import Settings
from serving.web.auth_web import SESSION_COOKIE, SIGN_IN_FAILED
from serving.web.models import SignInAttempt, UserCredential, WebSession
from serving.web.passwords import PasswordError, set_password


def _audit(sessions, action: str) -> list[AuditEvent]:
    with transaction(sessions) as session:
        return list(
            session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        )


def test_sign_in_sets_a_session_cookie_and_is_audited(client, org, sessions):
    user_id = default_dermatologist(sessions, org.org_id)
    r = sign_in(client, org.slug, "DERM ")  # the sign-in name is case-insensitive, spaces trimmed
    assert r.status_code == 303 and r.headers["location"] == "/queue"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # environment "test"
    page = client.get("/queue")
    assert page.status_code == 200 and "Dr. Default" in page.text
    with transaction(sessions) as session:
        row = session.scalar(select(WebSession).where(WebSession.user_id == user_id))
        token = client.cookies.get(SESSION_COOKIE)
        assert row is not None and token not in (row.token_hash, row.csrf_token)  # only the hash is stored
        credential = session.get(UserCredential, user_id)
        assert credential.password_hash.startswith("$argon2id$") and PASSWORD not in credential.password_hash
    event = [e for e in _audit(sessions, "web.sign_in") if e.actor_user_id == user_id][-1]
    assert event.outcome == "ok" and event.resource_id == user_id and event.actor_key_id is None


def test_cookie_is_secure_outside_development(settings, org, sessions):
    default_dermatologist(sessions, org.org_id)
    production = settings.model_copy(
        update={
            "web_secure_cookie": None,
            "environment": "production",  # which refuses to start without a storage key
            "storage_key": SecretStr(base64.b64encode(os.urandom(32)).decode()),
        }
    )
    assert production.secure_cookie
    with TestClient(create_app(production), base_url="https://testserver") as client:
        r = sign_in(client, org.slug, "derm")
        assert r.status_code == 303
        cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
        assert "Secure" in cookie and "HttpOnly" in cookie


@pytest.mark.parametrize(
    "organization, login, password",
    [
        ("{org}", "derm", "wrong password entirely"),
        ("{org}", "nobody", PASSWORD),
        ("no-such-org", "derm", PASSWORD),
    ],
)
def test_failures_say_the_same_thing(client, org, sessions, organization, login, password):
    default_dermatologist(sessions, org.org_id)
    r = sign_in(client, organization.format(org=org.slug), login, password)
    assert r.status_code == 401
    assert SIGN_IN_FAILED in r.text.replace("&#39;", "'")
    assert SESSION_COOKIE not in client.cookies
    assert client.get("/queue", follow_redirects=False).status_code == 303
    assert _audit(sessions, "web.sign_in")[-1].outcome == "failed"


def test_lockout_after_five_failures_then_released(client, org, sessions):
    user_id = default_dermatologist(sessions, org.org_id)
    for _ in range(5):
        assert sign_in(client, org.slug, "derm", "not the password at all").status_code == 401
    locked = sign_in(client, org.slug, "derm")  # the right password, refused with the same message
    assert locked.status_code == 401 and SIGN_IN_FAILED in locked.text.replace("&#39;", "'")
    assert _audit(sessions, "web.sign_in")[-1].outcome == "locked_out"
    # an unknown name locks the same way, so the lockout does not reveal who exists
    for _ in range(6):
        r = sign_in(client, org.slug, "ghost", "whatever it is")
    assert r.status_code == 401 and SIGN_IN_FAILED in r.text.replace("&#39;", "'")
    # 15 minutes later the attempts no longer count
    with transaction(sessions) as session:
        session.execute(
            update(SignInAttempt)
            .where(SignInAttempt.subject.startswith(f"{org.slug}/"))
            .values(at=utcnow() - timedelta(minutes=16))
        )
    r = sign_in(client, org.slug, "derm")
    assert r.status_code == 303
    assert _audit(sessions, "web.sign_in")[-1].resource_id == user_id


def test_a_success_resets_the_count(client, org, sessions):
    default_dermatologist(sessions, org.org_id)
    for _ in range(4):
        sign_in(client, org.slug, "derm", "not the password at all")
    assert sign_in(client, org.slug, "derm").status_code == 303
    for _ in range(4):
        sign_in(client, org.slug, "derm", "not the password at all")
    assert sign_in(client, org.slug, "derm").status_code == 303


def test_sign_out_ends_the_session(client, org, sessions):
    user_id = default_dermatologist(sessions, org.org_id)
    sign_in(client, org.slug, "derm")
    token = client.cookies.get(SESSION_COOKIE)
    assert client.post("/sign-out").status_code == 403  # no CSRF token
    r = client.post("/sign-out", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in")
    assert client.get("/queue", follow_redirects=False).status_code == 303
    client.cookies.set(SESSION_COOKIE, token)  # the old cookie, replayed
    assert client.get("/queue", follow_redirects=False).status_code == 303
    out = _audit(sessions, "web.sign_out")[-1]
    assert out.actor_user_id == user_id and out.resource_id == user_id


@pytest.mark.parametrize("column", ["expires_at", "last_seen_at"])
def test_expired_and_idle_sessions_sign_out(client, org, sessions, column):
    user_id = default_dermatologist(sessions, org.org_id)
    sign_in(client, org.slug, "derm")
    assert client.get("/queue").status_code == 200
    past = utcnow() - timedelta(hours=1 if column == "last_seen_at" else 0, minutes=1)
    with transaction(sessions) as session:
        session.execute(update(WebSession).where(WebSession.user_id == user_id).values({column: past}))
    r = client.get("/queue?tier=URGENT", follow_redirects=False)
    assert r.status_code == 303
    ended = "idle" if column == "last_seen_at" else "expired"  # said on the sign-in page (issue 15)
    assert r.headers["location"] == f"/sign-in?next=%2Fqueue%3Ftier%3DURGENT&ended={ended}"
    with transaction(sessions) as session:
        assert session.scalar(select(WebSession.ended_at).where(WebSession.user_id == user_id)) is not None


def test_deactivated_user_is_signed_out(client, org, sessions):
    user_id = default_dermatologist(sessions, org.org_id)
    sign_in(client, org.slug, "derm")
    with transaction(sessions) as session:
        org_row = session.get(Organization, org.org_id)
        deactivate_user(session, org=org_row, user_id=user_id, actor=Actor(org.org_id, None, "operator"))
    assert client.get("/queue", follow_redirects=False).status_code == 303
    assert sign_in(client, org.slug, "derm").status_code == 401


def test_every_post_needs_the_csrf_token(client, org, sessions):
    default_dermatologist(sessions, org.org_id)
    assert (
        client.post(
            "/sign-in", data={"organization": org.slug, "login": "derm", "password": PASSWORD}
        ).status_code
        == 403
    )
    sign_in(client, org.slug, "derm")
    token = csrf(client)
    for path in ("/queue/claim", "/cases/x/diagnosis", "/cases/x/close", "/cases/x/lease", "/sign-out"):
        assert client.post(path, data={}).status_code == 403, path
        assert client.post(path, data={"csrf_token": "forged"}).status_code == 403, path
    # the token in a header (fetch, htmx) counts like the form field
    r = client.post("/queue/claim", headers={"X-CSRF-Token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/queue?notice=empty"
    # another session's token does not
    other = TestClient(client.app)
    sign_in(other, org.slug, "derm")
    assert other.post("/queue/claim", data={"csrf_token": token}).status_code == 403


def test_a_new_password_ends_other_sessions(client, org, sessions):
    user_id = default_dermatologist(sessions, org.org_id)
    sign_in(client, org.slug, "derm")
    default_dermatologist(sessions, org.org_id)  # set again
    assert client.get("/queue", follow_redirects=False).status_code == 303
    with transaction(sessions) as session:
        assert session.get(UserCredential, user_id).login == "derm"


def test_passwords_and_names_are_checked(org, sessions):
    with_password(sessions, org.org_id, login="ada")
    with transaction(sessions) as session:
        o = session.get(Organization, org.org_id)
        user = session.scalar(select(User).where(User.organization_id == org.org_id, User.role == "admin"))
        actor = Actor(o.id, None, "operator")
        for password, login, field in [
            ("short", "admin", "password"),
            ("aaaaaaaaaaaaaaaa", "admin", "password"),
            (PASSWORD, "ada", "login"),  # taken
            (PASSWORD, "has space", "login"),
        ]:
            with pytest.raises(PasswordError) as caught:
                set_password(session, org=o, user=user, password=password, login=login, actor=actor)
            assert caught.value.field == field


def test_cli_sets_a_password_from_stdin(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {"DATABASE_URL": url}
    runner = CliRunner()
    assert runner.invoke(main, ["orgs", "create", "--slug", "sun"], env=env).exit_code == 0
    made = runner.invoke(
        main,
        [
            "users",
            "create",
            "--org",
            "sun",
            "--name",
            "Dr. Sun",
            "--role",
            "dermatologist",
            "--jurisdiction",
            "US-CA",
        ],
        env=env,
    )
    assert made.exit_code == 0, made.output
    user_id = runner.invoke(main, ["users", "list", "--org", "sun"], env=env).stdout.split()[0]
    short = runner.invoke(
        main,
        ["users", "set-password", "--org", "sun", "--user-id", user_id, "--password-stdin"],
        input="short\n",
        env=env,
    )
    assert short.exit_code != 0 and "at least 12" in short.output
    ok = runner.invoke(
        main,
        [
            "users",
            "set-password",
            "--org",
            "sun",
            "--user-id",
            user_id,
            "--login",
            "sun.derm",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
        env=env,
    )
    assert ok.exit_code == 0, ok.output
    assert "'sun.derm'" in ok.stdout
    prompted = runner.invoke(
        main,
        ["users", "set-password", "--org", "sun", "--user-id", user_id],
        input=f"{PASSWORD}!\n{PASSWORD}!\n",
        env=env,
    )
    assert prompted.exit_code == 0, prompted.output
    settings = Settings(
        database_url=url, photo_dir=tmp_path / "photos", environment="test", migrate_on_start=False
    )
    with TestClient(create_app(settings)) as client:
        assert sign_in(client, "sun", "sun.derm", PASSWORD + "!").status_code == 303


def test_a_multipart_post_without_the_token_is_refused(client, org, sessions):
    default_dermatologist(sessions, org.org_id)
    sign_in(client, org.slug, "derm")
    r = client.post(
        "/cases/x/messages",
        data={"body": "hello"},
        files=[("attachments", ("a.jpg", b"\xff\xd8" + b"0" * 2048, "image/jpeg"))],
    )
    assert r.status_code == 403  # and its spooled upload is closed (warnings are errors here)


@pytest.mark.parametrize(
    "target, landing",
    [("/dashboard", "/dashboard"), ("https://evil.example/", "/queue"), ("//evil.example", "/queue")],
)
def test_sign_in_goes_back_only_to_this_site(client, org, sessions, target, landing):
    default_dermatologist(sessions, org.org_id)
    page = client.get(f"/sign-in?next={target}")
    token = CSRF_FIELD.search(page.text).group(1)
    r = client.post(
        "/sign-in",
        data={
            "csrf_token": token,
            "organization": org.slug,
            "login": "derm",
            "password": PASSWORD,
            "next": target,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == landing

"""The admin pages (issue 15): create a user who signs in at once, edit a dermatologist's licences,
deactivate with a confirmation (the people service the CLI uses: keys revoked, held cases back in the
queue), and the cases waiting on the patient with what they wait for and their age. Admins only."""

from __future__ import annotations

import html as htmllib
import re
from datetime import timedelta

from consults_support import QUESTIONNAIRE, diagnosed, follow_up_body, in_review
from fastapi.testclient import TestClient
from sqlalchemy import select
from web_support import PASSWORD, csrf, sign_in, with_password

from serving.audit import AuditEvent
from serving.cases.models import Case
from serving.consults.models import Message
from serving.db import transaction, utcnow
from serving.people.models import User


def _post(client, path: str, data: dict):
    return client.post(path, data={"csrf_token": csrf(client), **data}, follow_redirects=False)


def _admin(client, org, sessions) -> str:
    user_id = with_password(sessions, org.org_id, login="boss", role="admin", name="Ada Admin")
    assert sign_in(client, org.slug, "boss").status_code == 303
    return user_id


def _text(html: str) -> str:
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", html)).split())


NEW = {
    "name": "Dr. Grace Hopper",
    "role": "dermatologist",
    "jurisdictions": "us-ca, US-NY",
    "login": "Grace",
    "password": PASSWORD,
    "again": PASSWORD,
}


def test_an_admin_creates_a_user_who_signs_in(client, org, sessions):
    admin_id = _admin(client, org, sessions)
    r = _post(client, "/admin/users", {**NEW, "jurisdictions": ""})  # a dermatologist needs a licence
    assert r.status_code == 422 and 'id="create-problem"' in r.text and "at least one jurisdiction" in r.text
    assert 'value="Dr. Grace Hopper"' in r.text and PASSWORD not in r.text  # kept, but never the password
    r = _post(client, "/admin/users", {**NEW, "again": "something else entirely"})
    assert r.status_code == 422 and "the two passwords differ" in r.text
    r = _post(client, "/admin/users", {**NEW, "password": "short", "again": "short"})
    assert r.status_code == 422 and "at least 12 characters" in r.text
    with transaction(sessions) as session:
        assert session.scalar(select(User).where(User.name == NEW["name"])) is None  # nothing half-made

    r = _post(client, "/admin/users", NEW)
    assert r.status_code == 200
    created = _text(r.text[r.text.index('id="user-created"') :].split("</div>")[0])
    assert "Dr. Grace Hopper can sign in now as grace" in created and "dtk_" in created
    with transaction(sessions) as session:
        grace = session.scalar(select(User).where(User.name == NEW["name"]))
        assert grace.jurisdictions == ["US-CA", "US-NY"] and grace.role == "dermatologist"
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.actor_user_id == admin_id)).all()
    assert "user.create" in actions

    other = TestClient(client.app)
    assert sign_in(other, org.slug, "grace").status_code == 303
    assert other.get("/queue").status_code == 200
    assert other.get("/admin/users").status_code == 403  # admins only
    r = other.post(
        "/admin/users", data={"csrf_token": csrf(other), **NEW, "login": "x"}, follow_redirects=False
    )
    assert r.status_code == 403


def test_licences_are_edited_and_a_user_deactivated_with_confirmation(client, org, sessions):
    case_id = in_review(client, org)  # held by make_org's dermatologist (Dr. Default)
    with transaction(sessions) as session:
        default = session.scalar(
            select(User).where(User.organization_id == org.org_id, User.name == "Dr. Default")
        )
        default_id = default.id
    admin_id = _admin(client, org, sessions)

    r = _post(client, f"/admin/users/{default_id}/licences", {"jurisdictions": "California"})
    assert r.status_code == 422 and "is not a jurisdiction" in htmllib.unescape(r.text)
    r = _post(client, f"/admin/users/{default_id}/licences", {"jurisdictions": ""})
    assert r.status_code == 422 and "at least one jurisdiction" in r.text
    r = _post(client, f"/admin/users/{default_id}/licences", {"jurisdictions": "us-ca; US-TX"})
    assert r.status_code == 303
    with transaction(sessions) as session:
        assert session.get(User, default_id).jurisdictions == ["US-CA", "US-TX"]

    r = _post(client, f"/admin/users/{default_id}/deactivate", {})  # not confirmed
    assert r.status_code == 422 and "Tick the box to confirm" in r.text
    assert client.get("/v1/me", headers=org.headers("dermatologist")).status_code == 200
    r = _post(client, f"/admin/users/{admin_id}/deactivate", {"confirm": "yes"})
    assert r.status_code == 409 and "cannot deactivate yourself" in r.text
    r = _post(client, f"/admin/users/{default_id}/deactivate", {"confirm": "yes"})
    assert r.status_code == 303 and "did=deactivated" in r.headers["location"]
    with transaction(sessions) as session:
        assert session.get(User, default_id).active is False
        case = session.get(Case, case_id)
        assert case.status == "queued" and case.assigned_to is None  # the held case is back
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.actor_user_id == admin_id)).all()
    assert {"user.licences.update", "user.deactivate"} <= set(actions)
    assert client.get("/v1/me", headers=org.headers("dermatologist")).status_code == 401
    page = client.get("/admin/users").text
    assert "User deactivated" in client.get("/admin/users?did=deactivated").text
    assert f'action="/admin/users/{default_id}/deactivate"' not in page


def test_cases_waiting_on_the_patient_with_their_age(client, org, sessions):
    retake = in_review(client, org)
    r = client.post(
        f"/v1/cases/{retake}/retake-request",
        json={"instructions": "Please retake in daylight.", "reasons": ["defocus_blur"]},
        headers=org.headers("dermatologist"),
    )
    assert r.status_code in (200, 201), r.text
    follow = diagnosed(client, org)
    r = client.post(
        f"/v1/cases/{follow}/follow-ups", json=follow_up_body(), headers=org.headers("dermatologist")
    )
    assert r.status_code in (200, 201), r.text
    visit = in_review(client, org)  # a video visit proposed, the patient to pick a time
    soon = (utcnow() + timedelta(days=2)).replace(microsecond=0).isoformat()
    r = client.post(
        f"/v1/cases/{visit}/video-visit",
        json={"proposed_times": [soon], "reason": "Discuss isotretinoin."},
        headers=org.headers("dermatologist"),
    )
    assert r.status_code in (200, 201), r.text
    queued = in_review(client, org, questionnaire={**QUESTIONNAIRE, "age": 40})  # not waiting on the patient
    with transaction(sessions) as session:  # the retake was asked three days ago
        message = session.scalar(select(Message).where(Message.case_id == retake))
        message.created_at = message.created_at - timedelta(days=3)

    user = TestClient(client.app)
    with_password(sessions, org.org_id, login="derm2")
    sign_in(user, org.slug, "derm2")
    assert user.get("/admin/waiting").status_code == 403

    _admin(client, org, sessions)
    page = client.get("/admin/waiting")
    assert page.status_code == 200
    rows = re.findall(r'<tr data-case="([^"]+)">(.*?)</tr>', page.text, re.S)
    assert [case_id for case_id, _ in rows] == [retake, follow, visit]  # oldest first
    first, second, third = (_text(html) for _, html in rows)
    assert "new photos (retake)" in first and "3 d 0 h" in first
    assert "follow-up photos" in second
    assert "the patient to pick a video visit time" in third
    assert f'href="/cases/{retake}"' in page.text and queued not in page.text

"""The user's time zone (issue 15, bug 7): set on the account page (IANA names only, checked with
zoneinfo), every time on the pages shown in it with the UTC time on hover, and the follow-up field
defaulting to that zone's clock and read back in it."""

from __future__ import annotations

import html as htmllib
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from consults_support import diagnosed
from sqlalchemy import select
from web_support import csrf, default_dermatologist, sign_in

from serving.audit import AuditEvent
from serving.cases.models import Case
from serving.consults.models import FollowUp
from serving.db import transaction, utcnow
from serving.people.models import User

LA = ZoneInfo("America/Los_Angeles")


def _post(client, path: str, data: dict):
    return client.post(path, data={"csrf_token": csrf(client), **data}, follow_redirects=False)


def _zone_of(sessions, user_id: str) -> str | None:
    with transaction(sessions) as session:
        return session.get(User, user_id).time_zone


def test_the_account_page_sets_a_known_zone_only(client, org, sessions):
    user_id = default_dermatologist(sessions, org.org_id)
    sign_in(client, org.slug, "derm")
    page = client.get("/account")
    assert page.status_code == 200 and '<option value="America/Los_Angeles"' in page.text
    for wrong in ("Mars/Olympus_Mons", "../../etc/passwd", "PST8PDT "[:0] + "Not a zone"):
        r = _post(client, "/account/time-zone", {"time_zone": wrong})
        assert r.status_code == 422 and "is not a time zone" in htmllib.unescape(r.text)
        assert 'aria-invalid="true"' in r.text
    assert _zone_of(sessions, user_id) is None
    r = _post(client, "/account/time-zone", {"time_zone": "America/Los_Angeles"})
    assert r.status_code == 303 and r.headers["location"] == "/account?done=time_zone"
    assert _zone_of(sessions, user_id) == "America/Los_Angeles"
    assert "Time zone saved" in client.get(r.headers["location"]).text
    r = _post(client, "/account/time-zone", {"time_zone": ""})  # back to UTC
    assert r.status_code == 303 and _zone_of(sessions, user_id) is None
    with transaction(sessions) as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.actor_user_id == user_id)).all()
    assert actions.count("user.time_zone.update") == 2 and "web.account.read" in actions


def test_times_show_in_the_users_zone_with_utc_on_hover(client, org, sessions):
    case_id = diagnosed(client, org)
    default_dermatologist(sessions, org.org_id)
    sign_in(client, org.slug, "derm")
    with transaction(sessions) as session:
        created = session.get(Case, case_id).created_at
    utc_text = created.astimezone(UTC).strftime("%d %b %Y, %H:%M UTC")

    page = client.get(f"/cases/{case_id}").text  # no zone yet: UTC
    assert f'title="{utc_text}">{utc_text}</time>' in page

    assert _post(client, "/account/time-zone", {"time_zone": "America/Los_Angeles"}).status_code == 303
    page = client.get(f"/cases/{case_id}").text
    local_text = created.astimezone(LA).strftime("%d %b %Y, %H:%M %Z")
    assert local_text.endswith(("PST", "PDT"))
    iso = created.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert f'submitted <time datetime="{iso}" title="{utc_text}">{local_text}</time>' in page
    assert f">{utc_text}</time>" not in page  # nothing left in UTC on the page's face


def test_the_follow_up_field_is_in_the_users_zone_both_ways(client, org, sessions):
    case_id = diagnosed(client, org)
    default_dermatologist(sessions, org.org_id)
    sign_in(client, org.slug, "derm")
    assert _post(client, "/account/time-zone", {"time_zone": "America/Los_Angeles"}).status_code == 303

    page = client.get(f"/cases/{case_id}").text
    default = re.search(r'id="follow_up-due_at" name="due_at" required value="([^"]+)"', page).group(1)
    expected = (utcnow() + timedelta(days=28)).astimezone(LA).replace(tzinfo=None)
    assert abs(datetime.fromisoformat(default) - expected) < timedelta(minutes=2)  # LA's clock, not UTC's
    assert 'name="time_zone" value="America/Los_Angeles"' in page
    assert "In your time zone, America/Los Angeles" in page

    year = utcnow().year + 1  # a summer date within the two years a follow-up may be ahead
    r = _post(
        client,
        f"/cases/{case_id}/follow-ups",
        {
            "due_at": f"{year}-07-01T09:00",
            "tz_offset": "0",
            "time_zone": "America/Los_Angeles",
            "instructions": "Same spot, daylight.",
        },
    )
    assert r.status_code == 303, re.findall(r"class=\"problem\"[^>]*>(.*?)</div>", r.text, re.S)
    with transaction(sessions) as session:
        due = session.scalar(select(FollowUp.due_at).where(FollowUp.case_id == case_id))
    assert due == datetime(year, 7, 1, 16, 0, tzinfo=UTC)  # 09:00 PDT
    page = client.get(f"/cases/{case_id}").text
    assert f'title="01 Jul {year}, 16:00 UTC">01 Jul {year}, 09:00 PDT</time>' in page

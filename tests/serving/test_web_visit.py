"""The case page's video visit (server-side): the holder proposes a visit from the page (times in their
own time zone), sees the appointment (the times offered, the patient's pick in their zone, the join
link), and a refusal is shown beside the form; the visit is cancelled from the page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from consults_support import in_review, last_event, status_of
from sqlalchemy import select
from web_support import csrf, default_dermatologist, sign_in, with_password

from serving.consults.models import VideoVisit
from serving.db import transaction, utcnow
from serving.events import types
from serving.orgs.models import Organization

LA = ZoneInfo("America/Los_Angeles")


def _post(client, path: str, data: dict):
    return client.post(path, data={"csrf_token": csrf(client), **data}, follow_redirects=False)


def _problems(page: str) -> list[str]:
    return re.findall(r'class="problem"[^>]*>(.*?)</div>', page, re.S)


def _visit(sessions, case_id: str) -> VideoVisit:
    with transaction(sessions) as session:
        return session.scalar(select(VideoVisit).where(VideoVisit.case_id == case_id))


def test_the_holder_proposes_a_video_visit_from_the_page_and_sees_the_appointment(client, org, sessions):
    with transaction(sessions) as session:
        session.get(Organization, org.org_id).video_url_template = "https://meet.example.com/derm-{visit_id}"
    case_id = in_review(client, org)
    default_dermatologist(sessions, org.org_id)
    sign_in(client, org.slug, "derm")
    assert _post(client, "/account/time-zone", {"time_zone": "America/Los_Angeles"}).status_code == 303

    page = client.get(f"/cases/{case_id}").text
    assert "Propose a video visit" in page and 'name="time_1"' in page

    local = (utcnow() + timedelta(days=10)).astimezone(LA).replace(hour=9, minute=0, second=0, microsecond=0)
    when = local.astimezone(UTC)
    form = {
        "time_1": local.strftime("%Y-%m-%dT%H:%M"),
        "time_2": "",
        "tz_offset": "0",
        "time_zone": "America/Los_Angeles",
        "duration_minutes": "30",
        "reason": "Isotretinoin needs a live consultation first.",
    }
    r = _post(client, f"/cases/{case_id}/video-visit", form)
    assert r.status_code == 303, _problems(r.text)
    assert r.headers["location"] == f"/cases/{case_id}?done=video_visit"
    visit = _visit(sessions, case_id)
    assert visit.times == [when] and visit.duration_minutes == 30  # read in the user's zone
    assert status_of(sessions, case_id) == "awaiting_visit"
    assert last_event(sessions, case_id).event_type == types.CASE_VIDEO_VISIT_PROPOSED

    page = client.get(f"/cases/{case_id}?done=video_visit").text
    assert "Video visit proposed" in page
    assert "Propose a video visit" not in page  # the case waits for the visit now
    assert "waiting for the patient to pick a time" in page
    shown = local.strftime("%d %b %Y, %H:%M %Z")
    assert f">{shown}</time>" in page  # the time offered, in the user's zone
    assert f'href="https://meet.example.com/derm-{visit.id}"' in page
    assert "Mark the visit held" in page and "Cancel the visit" in page  # the proposer's forms

    # the patient picks the time: the page shows the appointment
    r = client.post(
        f"/v1/cases/{case_id}/video-visit/confirm", json={"time": when.isoformat()}, headers=org.headers()
    )
    assert r.status_code == 200, r.text
    page = client.get(f"/cases/{case_id}").text
    appointment = re.search(r'id="visit-time">(.*?)</dd>', page, re.S).group(1)
    assert f">{shown}</time>, 30 min" in appointment

    # another dermatologist sees the appointment but not the proposer's forms
    client.post("/sign-out", data={"csrf_token": csrf(client)})
    with_password(sessions, org.org_id, login="other")
    sign_in(client, org.slug, "other")
    page = client.get(f"/cases/{case_id}").text
    assert 'id="visit-time"' in page and "Mark the visit held" not in page


def test_a_refused_proposal_is_shown_beside_the_form_and_cancel_returns_the_case(client, org, sessions):
    case_id = in_review(client, org)
    default_dermatologist(sessions, org.org_id)
    sign_in(client, org.slug, "derm")
    past = {"time_1": "2020-01-01T09:00", "tz_offset": "0", "time_zone": "UTC", "reason": "Needs a look."}
    r = _post(client, f"/cases/{case_id}/video-visit", past)
    assert r.status_code == 422
    assert 'id="video_visit-problem"' in r.text and "Pick times in the future." in r.text
    assert 'value="2020-01-01T09:00"' in r.text  # what was typed is kept
    assert _visit(sessions, case_id) is None and status_of(sessions, case_id) == "in_review"

    none = {"time_1": "", "tz_offset": "0", "time_zone": "UTC", "reason": "Needs a look."}
    r = _post(client, f"/cases/{case_id}/video-visit", none)
    assert r.status_code == 422 and 'id="video_visit-problem"' in r.text

    soon = datetime.fromtimestamp(utcnow().timestamp() + 3 * 86400, UTC).strftime("%Y-%m-%dT%H:%M")
    r = _post(client, f"/cases/{case_id}/video-visit", {**past, "time_1": soon})
    assert r.status_code == 303, _problems(r.text)
    r = _post(client, f"/cases/{case_id}/video-visit/cancel", {"reason": "Seen in clinic instead."})
    assert r.status_code == 303, _problems(r.text)
    assert status_of(sessions, case_id) == "queued"
    assert _visit(sessions, case_id).cancelled_by == "dermatologist"
    page = client.get(f"/cases/{case_id}").text
    assert "Cancelled by the dermatologist" in page and "Seen in clinic instead." in page

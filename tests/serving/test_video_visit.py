"""Escalation to a live video visit (serving.consults.video_visits), through the HTTP API: the hybrid
journey (an asynchronous case, a visit proposed and confirmed, then diagnosis, prescription and closure
by the same dermatologist, with the events in order), the refusals, and the organization's video URL
template set from the command line."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from conftest import cli_runner, make_dermatologist
from consults_support import (
    DIAGNOSIS,
    PRESCRIPTION,
    audit_actions,
    bearer,
    claim,
    event_types,
    in_review,
    last_event,
    status_of,
    submit,
)
from sqlalchemy import select

from serving.api import video_visits as video_visit_routes
from serving.cases.models import Case
from serving.cli import main
from serving.consults.models import VideoVisit
from serving.consults.video_visits import check_template, join_url
from serving.db import transaction, utcnow
from serving.events import types
from serving.orgs.models import Organization

REASON = "Isotretinoin needs a live consultation before it is started."


def hours(h: float) -> str:
    return (utcnow() + timedelta(hours=h)).isoformat()


def propose(client, org, case_id, *, times=None, key=None, **extra):
    headers = bearer(key) if key else org.headers("dermatologist")
    body = {"proposed_times": times or [hours(26), hours(50)], "reason": REASON, **extra}
    return client.post(f"/v1/cases/{case_id}/video-visit", json=body, headers=headers)


def confirm(client, org, case_id, time: str):
    return client.post(f"/v1/cases/{case_id}/video-visit/confirm", json={"time": time}, headers=org.headers())


def set_template(sessions, org_id: str, template: str | None) -> None:
    with transaction(sessions) as session:
        session.get(Organization, org_id).video_url_template = template


def at(monkeypatch, when: datetime) -> None:
    """The video visit routes see ``when`` as the time now."""
    monkeypatch.setattr(video_visit_routes, "utcnow", lambda: when)


def test_hybrid_journey_async_case_video_visit_then_diagnosis_prescription_closure(
    client, org, sessions, monkeypatch
):
    set_template(sessions, org.org_id, "https://meet.example.com/derm-{visit_id}?case={case_id}")
    derm = org.headers("dermatologist")
    case_id = in_review(client, org)

    # the holder proposes two times (given in another zone): the case waits, held by no one
    first = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    second = first + timedelta(hours=3)
    paris = [t.astimezone(ZoneInfo("Europe/Paris")).isoformat() for t in (second, first)]
    r = propose(client, org, case_id, times=paris, duration_minutes=30)
    assert r.status_code == 201, r.text
    visit = r.json()["video_visit"]
    assert r.json()["case"]["status"] == "awaiting_visit" and visit["status"] == "proposed"
    assert [datetime.fromisoformat(t) for t in visit["proposed_times"]] == [first, second]  # earliest first
    assert visit["join_url"] == f"https://meet.example.com/derm-{visit['id']}?case={case_id}"
    with transaction(sessions) as session:
        case = session.get(Case, case_id)
        assert (case.assigned_to, case.lease_expires_at) == (None, None)  # the lease ended
    proposed = last_event(sessions, case_id)
    assert proposed.event_type == types.CASE_VIDEO_VISIT_PROPOSED
    assert proposed.payload["reason"] == REASON and proposed.payload["duration_minutes"] == 30
    assert proposed.payload["join_url"] == visit["join_url"] and proposed.payload["join_url_note"] is None
    assert [datetime.fromisoformat(t) for t in proposed.payload["proposed_times"]] == [first, second]

    # the dermatologist cannot act on the case meanwhile: no one holds it
    r = client.post(f"/v1/cases/{case_id}/diagnosis", json=DIAGNOSIS, headers=derm)
    assert r.status_code == 409, r.text

    # the patient picks the second time, written in their own zone
    picked = second.astimezone(timezone(timedelta(hours=-5))).isoformat()
    r = confirm(client, org, case_id, picked)
    assert r.status_code == 200, r.text
    assert r.json()["video_visit"]["status"] == "confirmed"
    assert datetime.fromisoformat(r.json()["video_visit"]["confirmed_time"]) == second
    confirmed = last_event(sessions, case_id)
    assert confirmed.event_type == types.CASE_VIDEO_VISIT_CONFIRMED
    assert datetime.fromisoformat(confirmed.payload["time"]) == second
    assert confirmed.payload["join_url"] == visit["join_url"]

    # not before the visit...
    r = client.post(f"/v1/cases/{case_id}/video-visit/complete", json={}, headers=derm)
    assert r.status_code == 409 and r.json()["error"]["code"] == "video_visit_not_due"
    # ...but once it has taken place, the dermatologist holds the same case again
    at(monkeypatch, second + timedelta(minutes=25))
    r = client.post(
        f"/v1/cases/{case_id}/video-visit/complete", json={"note": "Seen on video; nodules."}, headers=derm
    )
    assert r.status_code == 200, r.text
    assert r.json()["case"]["status"] == "in_review" and r.json()["video_visit"]["status"] == "completed"

    r = client.post(f"/v1/cases/{case_id}/diagnosis", json=DIAGNOSIS, headers=derm)
    assert r.status_code == 201 and r.json()["case"]["status"] == "diagnosed", r.text
    r = client.post(f"/v1/cases/{case_id}/prescriptions", json=PRESCRIPTION, headers=derm)
    assert r.status_code == 201, r.text
    r = client.post(f"/v1/cases/{case_id}/close", json={"reason": "Treatment started."}, headers=derm)
    assert r.status_code == 200 and r.json()["case"]["status"] == "closed", r.text

    assert event_types(sessions, case_id) == [
        types.CASE_VIDEO_VISIT_PROPOSED,
        types.CASE_VIDEO_VISIT_CONFIRMED,
        types.CASE_VIDEO_VISIT_COMPLETED,
        types.CASE_DIAGNOSED,
        types.PRESCRIPTION_ISSUED,
        types.CASE_CLOSED,
    ]
    actions = [a for a, outcome in audit_actions(sessions, case_id) if a.startswith("consult.video_visit")]
    assert actions == [
        "consult.video_visit.propose",
        "consult.video_visit.confirm",
        "consult.video_visit.complete",
    ]
    r = client.get(f"/v1/cases/{case_id}/video-visits", headers=org.headers())
    assert r.status_code == 200 and [v["status"] for v in r.json()["video_visits"]] == ["completed"]


def test_a_diagnosed_case_may_be_escalated_and_without_a_template_the_event_says_so(client, org, sessions):
    case_id = in_review(client, org)
    derm = org.headers("dermatologist")
    assert client.post(f"/v1/cases/{case_id}/diagnosis", json=DIAGNOSIS, headers=derm).status_code == 201
    r = propose(client, org, case_id)
    assert r.status_code == 201, r.text
    assert r.json()["video_visit"]["join_url"] is None
    payload = last_event(sessions, case_id).payload
    assert payload["join_url"] is None and "no video link" in payload["join_url_note"]


@pytest.mark.parametrize(
    ("times", "code"),
    [
        ([-1], "time_in_past"),
        ([24, -0.5], "time_in_past"),
        ([24 * 91], "time_too_far"),
    ],
)
def test_bad_proposed_times_are_refused_naming_the_field(client, org, sessions, times, code):
    case_id = in_review(client, org)
    r = propose(client, org, case_id, times=[hours(h) for h in times])
    assert r.status_code == 422, r.text
    assert (r.json()["error"]["code"], r.json()["error"]["field"]) == (code, "proposed_times")
    assert status_of(sessions, case_id) == "in_review"
    assert types.CASE_VIDEO_VISIT_PROPOSED not in event_types(sessions, case_id)


@pytest.mark.parametrize(
    "body",
    [
        {"proposed_times": [], "reason": REASON},
        {"proposed_times": [hours(h) for h in range(24, 30)], "reason": REASON},  # six
        {"proposed_times": ["2030-01-01T10:00:00"], "reason": REASON},  # no time zone
        {"proposed_times": [hours(24)], "reason": REASON, "duration_minutes": 90},
        {"proposed_times": [hours(24)]},
    ],
    ids=["none", "six", "no-zone", "too-long", "no-reason"],
)
def test_malformed_proposals_are_422(client, org, body):
    case_id = in_review(client, org)
    r = client.post(f"/v1/cases/{case_id}/video-visit", json=body, headers=org.headers("dermatologist"))
    assert r.status_code == 422, r.text


def test_a_time_not_proposed_is_a_422_naming_time(client, org, sessions):
    case_id = in_review(client, org)
    times = [hours(26), hours(50)]
    assert propose(client, org, case_id, times=times).status_code == 201
    r = confirm(client, org, case_id, hours(27))
    assert r.status_code == 422, r.text
    assert (r.json()["error"]["code"], r.json()["error"]["field"]) == ("time_not_proposed", "time")
    with transaction(sessions) as session:
        (visit,) = session.scalars(select(VideoVisit).where(VideoVisit.case_id == case_id))
        assert (visit.status, visit.confirmed_time) == ("proposed", None)


def test_who_may_propose_confirm_complete_and_cancel(client, org, other_org, sessions):
    case_id = in_review(client, org)
    other = make_dermatologist(sessions, org.org_id)
    texan = make_dermatologist(sessions, org.org_id, jurisdictions=("US-TX",), name="Dr. Texan")

    # only the holder proposes; the intake key may not; another organization's keys do not see the case
    assert propose(client, org, case_id, key=other).json()["error"]["code"] == "lease_required"
    r = client.post(
        f"/v1/cases/{case_id}/video-visit",
        json={"proposed_times": [hours(30)], "reason": "x"},
        headers=org.headers(),
    )
    assert r.status_code == 403, r.text
    assert propose(client, other_org, case_id).status_code == 404
    assert propose(client, org, case_id, key=texan).status_code == 404  # not licensed in US-CA
    assert status_of(sessions, case_id) == "in_review"

    time = hours(30)
    assert propose(client, org, case_id, times=[time]).status_code == 201
    # only intake confirms, and only its own organization's case
    r = client.post(
        f"/v1/cases/{case_id}/video-visit/confirm", json={"time": time}, headers=org.headers("dermatologist")
    )
    assert r.status_code == 403
    assert confirm(client, other_org, case_id, time).status_code == 404
    r = client.get(f"/v1/cases/{case_id}/video-visits", headers=bearer(texan))
    assert r.status_code == 404
    assert ("consult.video_visit.read", "not_found") in audit_actions(sessions, case_id)
    assert confirm(client, org, case_id, time).status_code == 200

    # another dermatologist may neither complete nor cancel it, and is told who can
    r = client.post(f"/v1/cases/{case_id}/video-visit/cancel", json={"reason": "busy"}, headers=bearer(other))
    assert r.status_code == 409 and r.json()["error"]["code"] == "video_visit_owner_required"
    assert "Dr. Default" in r.json()["error"]["message"]
    # nor can anyone claim it from the queue meanwhile
    assert claim(client, org, case_id, key=other).status_code == 409

    # the patient cancels: back to the queue, where anyone may claim it
    r = client.post(
        f"/v1/cases/{case_id}/video-visit/cancel", json={"reason": "Cannot make it."}, headers=org.headers()
    )
    assert r.status_code == 200, r.text
    assert r.json()["case"]["status"] == "queued" and r.json()["video_visit"]["cancelled_by"] == "patient"
    assert last_event(sessions, case_id).event_type == types.CASE_VIDEO_VISIT_CANCELLED
    assert confirm(client, org, case_id, time).status_code == 409  # no visit to confirm any more
    assert claim(client, org, case_id, key=other).status_code == 200


def test_a_visit_not_confirmed_cannot_be_marked_held(client, org):
    case_id = in_review(client, org)
    assert propose(client, org, case_id).status_code == 201
    r = client.post(
        f"/v1/cases/{case_id}/video-visit/complete", json={}, headers=org.headers("dermatologist")
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "video_visit_not_confirmed"


def test_a_queued_case_cannot_get_a_video_visit(client, org):
    case = submit(client, org)
    r = propose(client, org, case["id"], key=org.admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "illegal_state"


def test_video_url_template_from_the_command_line(settings, org, sessions, tmp_path):
    run = cli_runner({"DATABASE_URL": settings.database_url, "DERMATRIAGE_PHOTO_DIR": str(tmp_path / "p")})
    assert "none" in run("orgs", "video-url", "--org", org.slug).stdout
    out = run("orgs", "video-url", "--org", org.slug, "https://meet.example.com/derm-{visit_id}").stdout
    assert "https://meet.example.com/derm-{visit_id}" in out
    with transaction(sessions) as session:
        assert (
            session.get(Organization, org.org_id).video_url_template
            == "https://meet.example.com/derm-{visit_id}"
        )

    bad = CliRunner().invoke(
        main,
        ["orgs", "video-url", "--org", org.slug, "https://meet.example.com/{patient_name}"],
        env={"DATABASE_URL": settings.database_url},
    )
    assert bad.exit_code != 0 and "unknown placeholders" in bad.output
    run("orgs", "video-url", "--org", org.slug, "--remove")
    with transaction(sessions) as session:
        assert session.get(Organization, org.org_id).video_url_template is None


@pytest.mark.parametrize(
    "template",
    [
        "meet.example.com/{visit_id}",
        "https://x.example/{visit}",
        "https://x.example/{visit_id",
        "ftp://x/{case_id}",
    ],
)
def test_bad_templates_are_refused(template):
    with pytest.raises(ValueError):
        check_template(template)


def test_join_url_fills_both_placeholders():
    template = check_template(" https://v.example/{case_id}/{visit_id}?x={{literal}} ")
    assert join_url(template, visit_id="v1", case_id="c1") == "https://v.example/c1/v1?x={literal}"
    assert join_url(None, visit_id="v1", case_id="c1") is None

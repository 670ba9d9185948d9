"""The queue page's rows and live updates, server side: each row's thumbnail, age and sex, concern and
why the case is back from the patient (a retake, the follow-up photos, a reply), read without a query
per row; ``/queue/live`` answers 204 while nothing changed (no audit row) and the rows, audited as a
read of the queue, when something did (a new emergency); it is scoped by organization and licence
like the page; it refuses a signed-out call with a 401 (no redirect to follow) and never keeps an
idle session alive."""

from __future__ import annotations

import re
from datetime import timedelta

from consults_support import QUESTIONNAIRE, in_review, send_photo, submit
from factories import good_jpeg, unreadable_jpeg
from queue_cases import queue_cases
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from web_support import csrf, default_dermatologist, sign_in, with_password

from serving.audit import AuditEvent
from serving.db import transaction, utcnow
from serving.web.models import WebSession
from serving.web.returning import Return, Thread, returns

EMERGENCY = {**QUESTIONNAIRE, "fever": True, "spreading_rapidly": True, "body_site": "leg"}
CONCERN = {**QUESTIONNAIRE, "concern": "A mole on my cheek got darker and itches since the summer. " * 4}
VERSION = re.compile(r'data-version="([0-9a-f]+)"')
LIVE_URL = re.compile(r'data-live-url="([^"]+)"')
ROW = re.compile(r'<tr class="tier-row-\w+" data-case="([0-9a-f-]{36})">(.*?)</tr>', re.S)


def _rows(html: str, section: str) -> dict[str, str]:
    start = html.index(f'id="{section}"')
    end = html.find("</section>", start)
    return dict(ROW.findall(html[start:end]))


def _queue_reads(sessions, user_id: str) -> int:
    with transaction(sessions) as session:
        return session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.actor_user_id == user_id, AuditEvent.action == "queue.read")
        )


def _signed_in(client, org, sessions) -> str:
    user_id = default_dermatologist(sessions, org.org_id)
    assert sign_in(client, org.slug, "derm").status_code == 303
    return user_id


def _page(client) -> tuple[str, str, str]:
    page = client.get("/queue")
    assert page.status_code == 200
    return page.text, VERSION.search(page.text).group(1), LIVE_URL.search(page.text).group(1)


def _live(client, version: str, url: str = "/queue/live"):
    sep = "&" if "?" in url else "?"
    return client.get(f"{url.replace('&amp;', '&')}{sep}since={version}", follow_redirects=False)


def test_live_sends_the_rows_only_when_the_queue_changed(client, org, sessions):
    submit(client, org)
    user_id = _signed_in(client, org, sessions)
    _, version, url = _page(client)
    assert url == "/queue/live"
    reads = _queue_reads(sessions, user_id)

    for _ in range(3):  # nothing changed: nothing sent, nothing audited
        r = _live(client, version)
        assert r.status_code == 204 and r.content == b""
        assert r.headers["cache-control"] == "no-store"
    assert _queue_reads(sessions, user_id) == reads

    emergency = submit(client, org, questionnaire=EMERGENCY)["id"]
    r = _live(client, version)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["version"] != version and r.headers["etag"] == f'"{body["version"]}"'
    assert list(_rows(body["html"], "emergency-title")) == [emergency]
    assert "Take now" in body["html"]  # the live rows are the page's rows, claim button included
    assert _queue_reads(sessions, user_id) == reads + 1  # audited as a read, when rows were sent
    with transaction(sessions) as session:
        read = session.scalar(
            select(AuditEvent)
            .where(AuditEvent.actor_user_id == user_id, AuditEvent.action == "queue.read")
            .order_by(AuditEvent.id.desc())
        )
        assert read.detail["emergency"] == [emergency] and read.actor_key_id is None

    assert _live(client, body["version"]).status_code == 204
    _, page_version, _ = _page(client)  # the page and its live updates agree on the version
    assert page_version == body["version"]


def test_live_keeps_the_pages_filter(client, org, sessions):
    queue_cases(sessions, org.org_id, 2, tier="ROUTINE")
    urgent = queue_cases(sessions, org.org_id, 1, tier="URGENT", urgency=0.8)
    _signed_in(client, org, sessions)
    text = client.get("/queue?tier=URGENT").text
    url = LIVE_URL.search(text).group(1).replace("&amp;", "&")
    assert url == "/queue/live?tier=URGENT"
    body = _live(client, "stale", url).json()
    assert list(_rows(body["html"], "queue-title")) == urgent


def test_live_is_scoped_by_organization_and_licence(client, org, other_org, sessions):
    mine = submit(client, org, questionnaire={**QUESTIONNAIRE, "jurisdiction": "US-NY"})["id"]
    user_id = with_password(sessions, org.org_id, login="ny", jurisdictions=("US-NY",))
    sign_in(client, org.slug, "ny")
    _, version, _ = _page(client)
    reads = _queue_reads(sessions, user_id)

    theirs = submit(client, other_org, questionnaire=EMERGENCY)["id"]
    texas = submit(client, org, questionnaire={**EMERGENCY, "jurisdiction": "US-TX"})["id"]
    assert _live(client, version).status_code == 204  # nothing the caller may see changed
    assert _queue_reads(sessions, user_id) == reads

    html = _live(client, "").json()["html"]  # the whole live part, as the caller may see it
    assert mine in html and theirs not in html and texas not in html

    ny = submit(client, org, questionnaire={**EMERGENCY, "jurisdiction": "US-NY"})["id"]
    body = _live(client, version).json()
    assert list(_rows(body["html"], "emergency-title")) == [ny]
    assert theirs not in body["html"] and texas not in body["html"]


def test_rows_show_the_thumbnail_age_sex_and_concern(client, org, sessions):
    case = submit(
        client, org, questionnaire=CONCERN, photos=[("a.jpg", good_jpeg(1)), ("b.jpg", good_jpeg(2))]
    )
    _signed_in(client, org, sessions)
    text, _, _ = _page(client)
    row = _rows(text, "queue-title")[case["id"]]
    first = case["photos"][0]["id"]
    assert f'src="/cases/{case["id"]}/photos/{first}/thumbnail"' in row
    assert "34 · female" in row
    concern = CONCERN["concern"].strip()
    assert f'title="{concern}"' in row  # the full text on hover
    shown = re.search(r'<span class="concern">(.*?)</span>', row).group(1)
    assert len(shown) <= 140 and shown.endswith("...") and concern.startswith(shown[:-3].rstrip())
    assert f'href="/cases/{case["id"]}"' in row
    assert 'class="returning"' not in row  # a first submission is not back from anyone
    thumbnail = client.get(f"/cases/{case['id']}/photos/{first}/thumbnail")
    assert thumbnail.status_code == 200 and thumbnail.content[:2] == b"\xff\xd8"


def test_returning_badges_for_a_retake_and_a_reply(client, org, sessions):
    retake = submit(client, org, photos=[("dark.jpg", unreadable_jpeg(3))])
    assert retake["status"] == "awaiting_retake"
    assert send_photo(client, org, retake["id"], good_jpeg(4))["status"] == "queued"

    replied = in_review(client, org)
    question = {"body": "Does it itch at night?", "question": True}
    r = client.post(f"/v1/cases/{replied}/messages", json=question, headers=org.headers("dermatologist"))
    assert r.status_code == 201, r.text
    user_id = _signed_in(client, org, sessions)
    _, version, _ = _page(client)
    assert replied not in _page(client)[0]  # waiting for the patient: not in the queue
    r = client.post(
        f"/v1/cases/{replied}/messages", json={"body": "Yes, mostly at night."}, headers=org.headers()
    )
    assert r.status_code == 201, r.text

    reads = _queue_reads(sessions, user_id)
    body = _live(client, version).json()  # the reply brings the case back, live
    assert _queue_reads(sessions, user_id) == reads + 1
    rows = _rows(body["html"], "queue-title")
    assert re.findall(r'class="returning">([^<]+)<', rows[retake["id"]]) == [Return.retake.value]
    assert re.findall(r'class="returning">([^<]+)<', rows[replied]) == [Return.reply.value]


def test_the_returning_rule():
    early, late = utcnow() - timedelta(hours=2), utcnow()
    assert returns(latest_batch=1, follow_up_batches=(), thread=Thread()) == ()
    assert returns(latest_batch=2, follow_up_batches=(), thread=Thread()) == (Return.retake,)
    assert returns(latest_batch=3, follow_up_batches={3}, thread=Thread()) == (Return.follow_up,)
    assert returns(latest_batch=3, follow_up_batches={2}, thread=Thread()) == (Return.retake,)
    replied = Thread(patient=late, clinic=early)
    assert returns(latest_batch=1, follow_up_batches=(), thread=replied) == (Return.reply,)
    asked = Thread(patient=early, clinic=late)  # the dermatologist wrote last: nothing back yet
    assert returns(latest_batch=1, follow_up_batches=(), thread=asked) == ()
    assert returns(latest_batch=1, follow_up_batches=(), thread=Thread(patient=late)) == ()


def test_the_rows_cost_the_same_queries_for_3_or_25_cases(client, org, sessions):
    _signed_in(client, org, sessions)
    counts = []
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    for n in (3, 22):
        for _ in range(n):
            submit(client, org, questionnaire=CONCERN)
        statements.clear()
        event.listen(Engine, "before_cursor_execute", count)
        try:
            assert client.get("/queue").status_code == 200
            assert _live(client, "stale").status_code == 200
        finally:
            event.remove(Engine, "before_cursor_execute", count)
        counts.append(len(statements))
    assert counts[0] == counts[1], counts  # 3 then 25 rows: no query per row


def test_a_signed_out_live_call_is_refused(client, org, sessions):
    fresh = type(client)(client.app)
    r = fresh.get("/queue/live", follow_redirects=False)
    assert r.status_code == 401 and r.json()["error"]["code"] == "signed_out"
    assert "/sign-in" in r.json()["error"]["fix"]

    _signed_in(client, org, sessions)
    _, version, _ = _page(client)
    assert _live(client, version).status_code == 204
    assert (
        client.post("/sign-out", data={"csrf_token": csrf(client)}, follow_redirects=False).status_code == 303
    )
    r = _live(client, version)
    assert r.status_code == 401 and r.json()["error"]["code"] == "signed_out"


def test_live_updates_do_not_keep_an_idle_session_alive(client, org, sessions, settings):
    user_id = _signed_in(client, org, sessions)
    _, version, _ = _page(client)
    idle = timedelta(minutes=settings.web_idle_minutes)

    def last_seen(value=None):
        with transaction(sessions) as session:
            row = session.scalar(select(WebSession).where(WebSession.user_id == user_id))
            if value is not None:
                row.last_seen_at = value
            return row.last_seen_at

    almost = last_seen(utcnow() - idle + timedelta(minutes=1))
    assert _live(client, version).status_code == 204
    assert last_seen() == almost  # the page's own polling is not the user's activity
    last_seen(utcnow() - idle - timedelta(seconds=1))
    r = _live(client, version)
    assert r.status_code == 401  # idle too long: signed out, however often the page polled
    assert r.json()["error"]["ended"] == "idle" and "unused for too long" in r.json()["error"]["message"]
    assert client.get("/queue", follow_redirects=False).status_code == 303

"""The pages through TestClient: the queue in the API's order with emergencies pinned, tier filter and
pages; the case page and its forms (the consult services' refusals shown beside the form, not as
500s); organization and licence boundaries; every read and write audited with the user."""

from __future__ import annotations

import re
from datetime import timedelta

from consults_support import DIAGNOSIS, PRESCRIPTION, QUESTIONNAIRE, submit
from factories import blurred_jpeg, good_jpeg
from queue_cases import queue_cases
from sqlalchemy import select
from web_support import csrf, default_dermatologist, sign_in, with_password

from serving.audit import AuditEvent
from serving.cases.models import Case
from serving.db import transaction, utcnow

URGENT = {**QUESTIONNAIRE, "bleeding": True, "grew": True, "body_site": "back"}
PRIORITY = {**QUESTIONNAIRE, "changed": True, "body_site": "arm"}
EMERGENCY = {**QUESTIONNAIRE, "fever": True, "spreading_rapidly": True, "body_site": "leg"}
CASE_ROW = re.compile(r'<tr class="tier-row-\w+" data-case="([0-9a-f-]{36})">')


def _rows(html: str, section: str) -> list[str]:
    start = html.index(f'id="{section}"')
    end = html.find("</section>", start)
    return CASE_ROW.findall(html[start:end])


def _actions(sessions, user_id: str, since_id: int = 0) -> list[tuple[str, str, str | None]]:
    with transaction(sessions) as session:
        return [
            (e.action, e.outcome, e.resource_id)
            for e in session.scalars(
                select(AuditEvent)
                .where(AuditEvent.actor_user_id == user_id, AuditEvent.id > since_id)
                .order_by(AuditEvent.id)
            )
        ]


def _last_audit_id(sessions) -> int:
    with transaction(sessions) as session:
        return session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)) or 0


def _signed_in(client, org, sessions) -> str:
    user_id = default_dermatologist(sessions, org.org_id)
    assert sign_in(client, org.slug, "derm").status_code == 303
    return user_id


def _post(client, path: str, data: dict, **kwargs):
    return client.post(path, data={"csrf_token": csrf(client), **data}, follow_redirects=False, **kwargs)


def test_queue_is_in_the_api_order_with_emergencies_pinned(client, org, sessions):
    routine = submit(client, org)["id"]
    urgent = submit(client, org, questionnaire=URGENT)["id"]
    priority = submit(client, org, questionnaire=PRIORITY)["id"]
    flagged = submit(client, org, photos=[("a.jpg", good_jpeg()), ("b.jpg", blurred_jpeg())])["id"]
    emergency = submit(client, org, questionnaire=EMERGENCY)["id"]
    _signed_in(client, org, sessions)

    page = client.get("/queue")
    assert page.status_code == 200
    api = client.get("/v1/queue", headers=org.headers("dermatologist")).json()
    assert _rows(page.text, "queue-title") == [i["case_id"] for i in api["items"]]
    assert _rows(page.text, "queue-title")[:2] == [urgent, priority]
    assert {routine, flagged} <= set(_rows(page.text, "queue-title"))
    assert _rows(page.text, "emergency-title") == [emergency]
    assert page.text.index("emergency-title") < page.text.index("queue-title")  # pinned above
    assert "focus blur" in page.text  # the blurred photo's quality flag
    assert 'data-due="' in page.text and "left</time>" in page.text  # the countdown's start
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]

    only_urgent = client.get("/queue?tier=URGENT")
    assert _rows(only_urgent.text, "queue-title") == [urgent]
    assert _rows(client.get("/queue?tier=ROUTINE").text, "queue-title") == [
        i["case_id"] for i in api["items"] if i["tier"] == "ROUTINE"
    ]


def test_queue_pages(client, org, sessions):
    ids = queue_cases(sessions, org.org_id, 30, due_in=timedelta(hours=40))
    _signed_in(client, org, sessions)
    first = client.get("/queue")
    listed = _rows(first.text, "queue-title")
    assert len(listed) == 25
    cursor = re.search(r'href="/queue\?cursor=([^"]+)">Next page', first.text).group(1)
    second = client.get(f"/queue?cursor={cursor}")
    assert len(_rows(second.text, "queue-title")) == 5
    assert set(listed) | set(_rows(second.text, "queue-title")) == set(ids)
    assert "Next page" not in second.text
    filtered = client.get("/queue?tier=ROUTINE&page=1")
    assert len(_rows(filtered.text, "queue-title")) == 5
    assert client.get("/queue?cursor=garbage", follow_redirects=False).status_code == 303


def test_claim_next_opens_the_top_case(client, org, sessions):
    submit(client, org)
    urgent = submit(client, org, questionnaire=URGENT)["id"]
    _signed_in(client, org, sessions)
    r = _post(client, "/queue/claim", {})
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{urgent}?done=claimed"
    page = client.get(r.headers["location"])
    assert "You hold this case" in page.text and "Bleeding lesion that grew or changed" in page.text
    _post(client, "/queue/claim", {})
    r = _post(client, "/queue/claim", {})
    assert r.headers["location"] == "/queue?notice=empty"
    assert "Nothing left to claim" in client.get("/queue?notice=empty").text
    mine = client.get("/queue")
    assert urgent in _rows(mine.text, "mine-title")


def test_the_consult_through_the_forms(client, org, sessions):
    case_id = submit(client, org)["id"]
    user_id = _signed_in(client, org, sessions)
    _post(client, "/queue/claim", {"case_id": case_id})
    base = f"/cases/{case_id}"

    # refusals come back on the page, beside their form, with what to fix
    r = _post(client, f"{base}/prescriptions", {**PRESCRIPTION, "rxcui": "10753 — tretinoin"})
    assert r.status_code == 409 and "no diagnosis yet" in r.text and 'id="prescribe-problem"' in r.text
    r = _post(client, f"{base}/diagnosis", {**DIAGNOSIS, "code": "Z99.99"})
    assert r.status_code == 422 and "not in the diagnosis catalogue" in r.text
    assert 'aria-invalid="true"' in r.text and "Comedones and inflammatory papules" in r.text  # kept
    r = _post(client, f"{base}/diagnosis", {"code": "L70.0"})
    assert r.status_code == 422 and "assessment" in r.text
    r = _post(client, f"{base}/follow-ups", {"due_at": "2030-01-01T10:00", "instructions": "x"})
    assert r.status_code == 409 and "in_review" in r.text

    r = _post(client, f"{base}/diagnosis", {**DIAGNOSIS, "code": "L70.0 — Acne vulgaris"})
    assert r.status_code == 303 and r.headers["location"] == f"{base}?done=diagnose"
    r = _post(client, f"{base}/prescriptions", {**PRESCRIPTION, "strength": "7%"})
    assert r.status_code == 422 and "Choose one of" in r.text
    r = _post(client, f"{base}/prescriptions", {**PRESCRIPTION, "rxcui": "10753 — tretinoin"})
    assert r.status_code == 303
    due = (utcnow() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    r = _post(
        client, f"{base}/follow-ups", {"due_at": due, "tz_offset": "-120", "instructions": "Same spot."}
    )
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert "Follow-up scheduled" in page.text and "follow up scheduled" in page.text
    assert "Acne vulgaris" in page.text and "Tretinoin" in page.text.title()

    # follow-up photos through the intake API put the case back in the queue; claim and close it
    r = client.post(
        f"/v1/cases/{case_id}/photos",
        files=[("photos", ("later.jpg", good_jpeg(3), "image/jpeg"))],
        headers=org.headers("intake"),
    )
    assert r.status_code == 200 and r.json()["status"] == "queued"
    _post(client, "/queue/claim", {"case_id": case_id})
    page = client.get(base)
    assert "Follow-up photos" in page.text and "First photos" in page.text
    r = _post(client, f"{base}/messages", {"body": "How is it now?", "question": "on"})
    assert r.status_code == 303 and r.headers["location"].endswith("done=question")
    r = _post(client, f"{base}/close", {"reason": "Resolved."})
    assert r.status_code == 409  # the case now waits for the patient: closing needs a holder
    assert "lease" in r.text
    with transaction(sessions) as session:
        assert session.get(Case, case_id).status == "awaiting_patient"
    actions = [a for a, _, _ in _actions(sessions, user_id)]
    for expected in ("consult.diagnosis.create", "consult.prescription.create", "consult.follow_up.schedule"):
        assert expected in actions


def test_retake_request_is_prefilled_with_the_quality_reasons(client, org, sessions):
    case_id = submit(client, org, photos=[("a.jpg", good_jpeg()), ("b.jpg", blurred_jpeg())])["id"]
    _signed_in(client, org, sessions)
    _post(client, "/queue/claim", {"case_id": case_id})
    page = client.get(f"/cases/{case_id}").text
    assert re.search(r'name="reasons" value="defocus_blur" checked', page)
    assert "Tap the spot on your screen" in page  # the focus instruction, as the request's text
    r = _post(
        client,
        f"/cases/{case_id}/retake-request",
        {"instructions": "Retake please.", "reasons": "defocus_blur"},
    )
    assert r.status_code == 303
    with transaction(sessions) as session:
        assert session.get(Case, case_id).status == "awaiting_patient"


def test_referral_and_release(client, org, sessions):
    first = submit(client, org)["id"]
    second = submit(client, org)["id"]
    _signed_in(client, org, sessions)
    _post(client, "/queue/claim", {"case_id": first})
    r = _post(client, f"/cases/{first}/referral", {"reason": "Needs a biopsy.", "urgency": "soon"})
    assert r.status_code == 303
    assert "Referred in person" in client.get(f"/cases/{first}").text
    _post(client, "/queue/claim", {"case_id": second})
    assert _post(client, f"/cases/{second}/lease", {}).headers["location"].endswith("done=renewed")
    assert _post(client, f"/cases/{second}/release", {}).headers["location"] == "/queue?notice=released"
    r = _post(client, f"/cases/{second}/release", {})
    assert r.status_code == 409 and "Not done" in r.text


def test_organization_and_licence_boundaries(client, org, other_org, sessions):
    theirs = submit(client, other_org)["id"]
    texas = submit(client, org, questionnaire={**QUESTIONNAIRE, "jurisdiction": "US-TX"})["id"]
    user_id = with_password(sessions, org.org_id, login="ny", jurisdictions=("US-NY",))
    sign_in(client, org.slug, "ny")
    mark = _last_audit_id(sessions)
    for case_id in (theirs, texas):
        assert client.get(f"/cases/{case_id}").status_code == 404
        assert case_id not in client.get("/queue").text
        r = _post(client, f"/cases/{case_id}/close", {"reason": "x"})
        assert r.status_code == 404
        photo = client.get(f"/v1/cases/{case_id}", headers=org.headers("admin"))
        if photo.status_code == 200:
            photo_id = photo.json()["photos"][0]["id"]
            assert client.get(f"/cases/{case_id}/photos/{photo_id}/image").status_code == 404
    misses = [(a, o) for a, o, r in _actions(sessions, user_id, mark) if r in (theirs, texas)]
    assert ("case.read", "not_found") in misses and ("consult.close", "not_found") in misses
    r = _post(client, "/queue/claim", {"case_id": texas})
    assert r.status_code == 409 and "not in your queue" in r.text

    # an admin sees every case of the organization, and may not claim
    with_password(sessions, org.org_id, login="boss", role="admin")
    admin = type(client)(client.app)
    sign_in(admin, org.slug, "boss")
    assert admin.get(f"/cases/{texas}").status_code == 200
    assert "Claim next case" not in admin.get("/queue").text


def test_every_page_is_audited_with_the_user(client, org, sessions):
    case_id = submit(client, org)["id"]
    user_id = _signed_in(client, org, sessions)
    mark = _last_audit_id(sessions)
    client.get("/queue")
    page = client.get(f"/cases/{case_id}")
    photo = re.search(r'src="(/cases/[^"]+/image)"', page.text).group(1)
    thumb = re.search(r'src="(/cases/[^"]+/thumbnail)"', page.text).group(1)
    image = client.get(photo)
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.content[:2] == b"\xff\xd8" and image.headers["cache-control"] == "private, no-store"
    assert client.get(thumb).status_code == 200
    client.get("/dashboard")
    actions = {a for a, o, _ in _actions(sessions, user_id, mark)}
    assert {
        "queue.read",
        "case.read",
        "consult.read",
        "consult.messages.read",
        "photo.read",
        "photo.thumbnail.read",
        "metrics.sla.read",
    } <= actions
    with transaction(sessions) as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.id > mark)).all()
        assert all(r.actor_key_id is None and r.organization_id == org.org_id for r in rows)


def test_dashboard_shows_the_figures_and_charts(client, org, sessions):
    submit(client, org)
    urgent = submit(client, org, questionnaire=URGENT)["id"]
    _signed_in(client, org, sessions)
    _post(client, "/queue/claim", {"case_id": urgent})
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert page.text.count('<svg class="chart"') == 2
    assert 'class="area-ROUTINE"' in page.text and "reviewed within SLA" in page.text
    assert re.search(r'id="fig-queued">1<', page.text)
    assert "100%" in page.text  # the claimed case was reviewed within its SLA


def test_an_admin_sets_a_password_on_the_users_page(client, org, sessions):
    derm_id = default_dermatologist(sessions, org.org_id)
    with_password(sessions, org.org_id, login="boss", role="admin")
    assert sign_in(client, org.slug, "derm").status_code == 303
    assert client.get("/admin/users").status_code == 403
    admin = type(client)(client.app)
    sign_in(admin, org.slug, "boss")
    page = admin.get("/admin/users")
    assert page.status_code == 200 and "Dr. Default" in page.text
    token = csrf(admin, "/admin/users")
    path = f"/admin/users/{derm_id}/password"
    r = admin.post(path, data={"csrf_token": token, "login": "derm", "password": "x" * 12, "again": "y" * 12})
    assert r.status_code == 422 and "differ" in r.text
    new = "a brand new passphrase"
    r = admin.post(
        path,
        data={"csrf_token": token, "login": "d.default", "password": new, "again": new},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert client.get("/queue", follow_redirects=False).status_code == 303  # their session ended
    assert sign_in(client, org.slug, "d.default", new).status_code == 303
    with transaction(sessions) as session:
        event = session.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "user.password.set", AuditEvent.resource_id == derm_id)
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
        assert event.actor_role == "admin" and event.detail["login"] == "d.default"


def test_the_case_page_shows_the_urgency_models_reading_of_each_photo(client, org, sessions):
    case_id = submit(client, org, photos=[("a.jpg", good_jpeg()), ("b.jpg", good_jpeg(seed=1))])["id"]
    reading = {
        "model": "urgency-test",
        "malignancy": 0.34,
        "diagnosis": {"ACK": 0.05, "BCC": 0.3, "MEL": 0.02, "NEV": 0.25, "SCC": 0.02, "SEK": 0.36},
    }
    with transaction(sessions) as session:
        first, second = sorted(session.get(Case, case_id).photos, key=lambda p: p.position)
        first.predictions = reading  # what the model stored at triage; the second photo was not read
    _signed_in(client, org, sessions)
    page = client.get(f"/cases/{case_id}").text
    expected = "Model: 34% malignant; seborrheic keratosis 36%, basal cell carcinoma 30%, nevus 25%"
    assert page.count(expected) == 3  # the stage caption, the thumbnail's caption and the line's tooltip
    assert '<p class="reading" title="' + expected + '">Model: 34% malignant</p>' in page  # under it
    api = client.get(f"/v1/cases/{case_id}", headers=org.headers("dermatologist")).json()
    readings = {p["id"]: p["urgency_model"] for p in api["triage"]["photos"]}
    assert readings[first.id] == {
        "version": "urgency-test",
        "malignancy": 0.34,
        "diagnosis": reading["diagnosis"],
        "outside_validated_domain": False,
    }
    assert readings[second.id] is None
    intake = client.get(f"/v1/cases/{case_id}", headers=org.headers()).json()
    assert all("urgency_model" not in p for p in intake["triage"]["photos"])


def test_a_case_whose_photos_could_be_better_is_queued_and_flagged(client, org, sessions):
    soft = submit(client, org, photos=[("soft.jpg", blurred_jpeg())])["id"]
    _signed_in(client, org, sessions)
    page = client.get("/queue").text
    assert soft in _rows(page, "queue-title")
    assert "better photo requested" in page
    case_page = client.get(f"/cases/{soft}").text
    assert "readable, better photo asked" in case_page

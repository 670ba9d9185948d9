"""The pages in a real browser: Debian's chromium, headless, driven by Playwright against a live
server. Signs in, checks the queue's order and its countdown, claims, zooms a photo, diagnoses,
prescribes, schedules a follow-up, receives the follow-up photos, claims again, closes; saves
screenshots to var/test-artifacts/screenshots/. Nothing downloads a browser.

Without chromium (or the playwright package) these tests skip, except under CI (``CI`` set), where
they fail: CI must run them.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta

import httpx2 as httpx
import pytest
from browser_support import LAPTOP, SCREENSHOTS, TABLET, browser, shot, sign_in  # noqa: F401 (a fixture)
from conftest import make_org, service_settings
from consults_support import QUESTIONNAIRE
from factories import blurred_jpeg, good_jpeg
from queue_cases import case_row, insert_cases
from test_concurrent_retries import LiveServer
from web_support import default_dermatologist

from serving.app import create_app
from serving.audit import AuditEvent
from serving.cases.models import Case
from serving.db import make_engine, make_session_factory, transaction, utcnow

URGENT = {**QUESTIONNAIRE, "bleeding": True, "grew": True, "body_site": "back", "age": 61}
PRIORITY = {**QUESTIONNAIRE, "changed": True, "body_site": "arm", "jurisdiction": "US-NY"}
EMERGENCY = {**QUESTIONNAIRE, "fever": True, "spreading_rapidly": True, "body_site": "leg"}
ROUTINE_2 = {**QUESTIONNAIRE, "body_site": "hand", "itch": True, "jurisdiction": "US-TX"}


@pytest.fixture
def live(sqlite_url, tmp_path):
    """A live server on SQLite with an organization, a dermatologist with a password, and cases."""
    settings = service_settings(sqlite_url, tmp_path / "photos")
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine)
    org = make_org(sessions)
    default_dermatologist(sessions, org.org_id)
    _seed_history(sessions, org.org_id, utcnow())
    with LiveServer(create_app(settings)) as base, httpx.Client(base_url=base, timeout=60) as api:
        yield base, org, api, sessions
    engine.dispose()


def _seed_history(sessions, org_id: str, now: datetime) -> None:
    """Two weeks of work as the services would have left it: cases queued, claimed after a wait (some
    past their SLA), closed, with their audit rows; and a few cases waiting since yesterday."""
    rng = random.Random(6)
    sla_hours = {"URGENT": 4, "PRIORITY": 24, "ROUTINE": 48}
    rows, audit = [], []

    def event(at, case_id, action, detail):
        audit.append(
            AuditEvent(
                at=at,
                organization_id=org_id,
                actor_role="intake" if action == "case.create" else "dermatologist",
                action=action,
                resource_type="case",
                resource_id=case_id,
                detail=detail,
            )
        )

    for day in range(14, 0, -1):
        for _ in range(5 + day % 4):
            tier = rng.choices(list(sla_hours), weights=(2, 3, 5))[0]
            created = now - timedelta(days=day, hours=rng.uniform(0, 23))
            wait = timedelta(hours=rng.uniform(0.2, 1.3) * sla_hours[tier])
            reviewed, closed = created + wait, created + wait + timedelta(minutes=20)
            if closed > now - timedelta(hours=1):
                continue
            row = case_row(org_id, tier=tier, status="closed", now=created, age=timedelta(0))
            due = created + timedelta(hours=sla_hours[tier])
            row.update(review_due_at=due, first_reviewed_at=reviewed, updated_at=closed)
            rows.append(row)
            event(created, row["id"], "case.create", {"status": "queued", "tier": tier})
            event(reviewed, row["id"], "case.transition", {"from": "queued", "to": "in_review"})
            event(closed, row["id"], "case.transition", {"from": "in_review", "to": "closed"})
    for hours, tier, site in ((30, "ROUTINE", "scalp"), (20, "ROUTINE", "chest"), (9, "PRIORITY", "neck")):
        created = now - timedelta(hours=hours)
        row = case_row(
            org_id, tier=tier, urgency=0.3 if tier == "ROUTINE" else 0.5, now=created, age=timedelta(0)
        )
        row.update(
            review_due_at=created + timedelta(hours=sla_hours[tier]),
            questionnaire={"jurisdiction": "US-CA", "body_site": site},
        )
        rows.append(row)
        event(created, row["id"], "case.create", {"status": "queued", "tier": tier})
    insert_cases(sessions, rows)
    with transaction(sessions) as session:
        session.add_all(audit)


def _overdue(sessions, case_id: str, by: timedelta) -> None:
    """Make a queued case look as if it had waited past its review time."""
    with transaction(sessions) as session:
        case = session.get(Case, case_id)
        hours = case.review_due_at - case.queued_at
        case.review_due_at = utcnow() - by
        case.queued_at = case.created_at = case.review_due_at - hours


def _submit(api, org, questionnaire, photos) -> str:
    r = api.post(
        "/v1/cases",
        data={"questionnaire": json.dumps(questionnaire)},
        files=[("photos", (f"p{i}.jpg", data, "image/jpeg")) for i, data in enumerate(photos)],
        headers=org.headers("intake", **{"Idempotency-Key": str(uuid.uuid4())}),
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _queue_ids(page) -> list[str]:
    return page.locator("section[aria-labelledby=queue-title] tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.case)"
    )


def test_a_dermatologist_works_a_case_in_the_browser(browser, live):  # noqa: F811
    base, org, api, sessions = live
    urgent = _submit(api, org, URGENT, [good_jpeg(1), good_jpeg(2)])
    _overdue(sessions, urgent, timedelta(minutes=12))
    _submit(api, org, PRIORITY, [good_jpeg(4)])
    _submit(api, org, QUESTIONNAIRE, [good_jpeg(5), blurred_jpeg(6)])
    _submit(api, org, ROUTINE_2, [good_jpeg(7)])
    emergency = _submit(api, org, EMERGENCY, [good_jpeg(8)])

    context = browser.new_context(viewport=LAPTOP, device_scale_factor=1)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, base, org)

    # the queue: the API's order, the emergency pinned above it, a live countdown
    api_order = [
        i["case_id"] for i in api.get("/v1/queue", headers=org.headers("dermatologist")).json()["items"]
    ]
    assert _queue_ids(page) == api_order and api_order[0] == urgent
    pinned = page.locator("section.emergency-box tbody tr")
    assert pinned.count() == 1 and pinned.first.get_attribute("data-case") == emergency
    countdown = page.locator("section[aria-labelledby=queue-title] .countdown").first
    before = countdown.inner_text()
    page.wait_for_timeout(1100)
    after = countdown.inner_text()
    assert before != after and after.startswith("overdue by"), (before, after)
    assert "overdue" in countdown.get_attribute("class")
    shot(page, "queue-laptop.png")
    page.set_viewport_size(TABLET)
    shot(page, "queue-tablet.png")
    page.set_viewport_size(LAPTOP)

    page.get_by_role("link", name="Urgent", exact=True).click()
    assert _queue_ids(page) == [urgent]
    page.get_by_role("link", name="All tiers").click()

    # claim next: the top case opens
    page.get_by_role("button", name="Claim next case").click()
    page.wait_for_url(f"{base}/cases/{urgent}?done=claimed")
    assert "You hold this case" in page.inner_text("section[aria-labelledby=lease-title]")

    # zoom a photo: click opens the dialog, + and the keyboard zoom in and out
    page.locator("button.thumb").nth(1).click()
    assert "photo 2" in page.inner_text("#stage-caption")
    page.locator("#stage-open").click()
    dialog = page.locator("dialog#zoom")
    assert dialog.is_visible()
    image = page.locator("#zoom-img")
    page.wait_for_function("document.getElementById('zoom-img').complete")
    fit = image.bounding_box()["width"]
    page.get_by_role("button", name="Zoom in").click()
    page.get_by_role("button", name="Zoom in").click()
    assert image.get_attribute("data-scale") == "2"
    assert image.bounding_box()["width"] == pytest.approx(2 * fit, rel=0.02)
    natural = image.evaluate("img => img.naturalWidth")  # the level: % of the photo's own size
    assert page.inner_text("#zoom-level") == f"{round(2 * fit / natural * 100)}%"
    shot(page, "case-zoom-laptop.png", full_page=False)
    page.keyboard.press("-")
    assert image.get_attribute("data-scale") == "1.5"
    page.keyboard.press("Escape")
    assert not dialog.is_visible()

    # a code that is not in the catalogue: the refusal is shown beside the form
    page.get_by_label("Diagnosis (ICD-10-CM)").fill("Z99.99")
    page.get_by_label("Assessment (for the record)").fill("Nodular lesion, bleeding, grew over 2 months.")
    page.get_by_label("Plan, in words for the patient").fill("We will see you in person for a biopsy.")
    page.get_by_role("button", name="Record the diagnosis").click()
    assert "not in the diagnosis catalogue" in page.inner_text("#diagnose-problem")
    assert page.get_by_label("Assessment (for the record)").input_value().startswith("Nodular lesion")
    shot(page, "case-form-problem-laptop.png")

    # diagnose, from the searchable list
    page.get_by_label("Diagnosis (ICD-10-CM)").fill("L40.0 — Psoriasis vulgaris")
    page.get_by_role("button", name="Record the diagnosis").click()
    page.wait_for_url(f"{base}/cases/{urgent}?done=diagnose")
    assert "L40.0" in page.inner_text("#diagnoses")

    # prescribe: the formulary gives the forms and strengths
    page.get_by_label("Medication (formulary)").fill("10753 — tretinoin")
    page.get_by_label("Form", exact=True).select_option("cream")
    strengths = page.locator("#prescribe-strength option").all_inner_texts()
    assert "0.05%" in strengths
    page.get_by_label("Strength", exact=True).select_option("0.05%")
    assert page.inner_text("#prescribe-unit") == "(g)"
    page.get_by_label("Directions for the patient").fill("Apply a thin layer at bedtime.")
    page.get_by_label("Quantity").fill("45")
    page.get_by_label("Refills").fill("1")
    page.get_by_role("button", name="Issue the prescription").click()
    page.wait_for_url(f"{base}/cases/{urgent}?done=prescribe")
    assert "0.05%" in page.inner_text("#prescriptions")

    # schedule a follow-up
    page.locator("#action-follow_up > summary").click()
    page.get_by_label("What the patient should photograph").fill("Photograph the same spot in daylight.")
    page.get_by_role("button", name="Schedule the follow-up").click()
    page.wait_for_url(f"{base}/cases/{urgent}?done=follow_up")
    assert page.inner_text("#case-status") == "follow up scheduled"
    # sign and release the drafted diagnosis, prescription and follow-up as one consult note
    page.get_by_label("I have reviewed the diagnosis").check()
    page.get_by_role("button", name="Sign and release").click()
    page.wait_for_url(f"{base}/cases/{urgent}?done=note")

    # the follow-up photos arrive through the intake API: the case is back in the queue
    r = api.post(
        f"/v1/cases/{urgent}/photos",
        files=[("photos", ("later.jpg", good_jpeg(11), "image/jpeg"))],
        headers=org.headers("intake"),
    )
    assert r.status_code == 200 and r.json()["status"] == "queued"
    page.goto(f"{base}/queue")
    assert urgent in _queue_ids(page)
    page.goto(f"{base}/cases/{urgent}")
    page.get_by_role("button", name="Claim this case").click()
    page.wait_for_url(f"{base}/cases/{urgent}?done=claimed")
    batches = page.locator(".batch h3").all_inner_texts()
    assert batches[0].startswith("First photos") and batches[1].startswith("Follow-up photos")
    page.get_by_label("Diagnosis (ICD-10-CM)").fill("L40.0 — Psoriasis vulgaris")
    page.get_by_label("Certainty").select_option("confirmed")
    page.get_by_label("Assessment (for the record)").fill("Plaques improved with treatment.")
    page.get_by_label("Plan, in words for the patient").fill("Keep using the cream for 4 more weeks.")
    page.get_by_role("button", name="Record the diagnosis").click()
    page.wait_for_url(f"{base}/cases/{urgent}?done=diagnose")

    # a message to the patient, with an image
    page.locator("#action-message > summary").click()
    page.get_by_label("Message", exact=True).fill("The plaques look thinner. Here is how to apply the cream.")
    page.get_by_label("Images").set_input_files(
        [{"name": "how-to.jpg", "mimeType": "image/jpeg", "buffer": good_jpeg(12)}]
    )
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(f"{base}/cases/{urgent}?done=message")
    assert "The plaques look thinner" in page.inner_text("#thread")
    assert page.locator("#thread .attachments img").evaluate("img => img.naturalWidth") > 0
    shot(page, "case-laptop.png")
    page.set_viewport_size(TABLET)
    shot(page, "case-tablet.png")
    page.set_viewport_size(LAPTOP)

    # release the revised diagnosis (consult note 2), then close the case
    page.get_by_label("I have reviewed the diagnosis").check()
    page.get_by_role("button", name="Sign and release").click()
    page.wait_for_url(f"{base}/cases/{urgent}?done=note")
    page.locator("#action-close > summary").click()
    page.locator("#action-close").get_by_label("Reason").fill(
        "Improving on treatment; nothing more to do online."
    )
    page.get_by_role("button", name="Close the case").click()
    page.wait_for_url(f"{base}/cases/{urgent}?done=close")
    assert page.inner_text("#case-status") == "closed"

    # the dashboard
    page.get_by_role("link", name="SLA dashboard").click()
    assert page.locator("svg.chart").count() == 2
    shot(page, "dashboard-laptop.png")
    page.set_viewport_size(TABLET)
    shot(page, "dashboard-tablet.png")
    page.set_viewport_size(LAPTOP)

    # keyboard: the claim button is reachable by Tab and has a visible focus ring
    page.goto(f"{base}/queue")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "claim-next":
            break
    assert page.evaluate("document.activeElement.id") == "claim-next"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    assert errors == []
    context.close()

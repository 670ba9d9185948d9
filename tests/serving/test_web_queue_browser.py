"""The live queue in a real browser (Debian's chromium, as ``test_web_browser``): an emergency submitted
through the API appears on the open queue page within 5 s without a reload, with an alert banner
(role="alert") that links to it; a case the patient answered comes back live with its badge; a click on
a row opens its case; when the session ends the page says so and stops polling. Screenshots (checked
by axe-core) in var/test-artifacts/screenshots/. Skips without chromium (fails under CI)."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from browser_support import LAPTOP, TABLET, browser, live_service, shot, sign_in, until  # noqa: F401 (a fixture)
from consults_support import QUESTIONNAIRE, claim
from factories import good_jpeg
from sqlalchemy import update

from serving.db import transaction, utcnow
from serving.web.models import WebSession

EMERGENCY = {**QUESTIONNAIRE, "fever": True, "spreading_rapidly": True, "body_site": "leg", "age": 52}
CONCERNS = (
    ("back", "A dark mole on my back has grown and sometimes bleeds when my shirt rubs it."),
    ("arm", "Itchy red patches on both elbows for two months, worse after hot showers."),
    ("hand", "A rough scaly spot on the back of my hand that does not heal."),
)


@pytest.fixture
def live(sqlite_url, tmp_path):
    with live_service(sqlite_url, tmp_path) as s:
        yield s.base, s.org, s.api, s.sessions, s.derm_id


def _submit(api, org, questionnaire, seed: int) -> str:
    r = api.post(
        "/v1/cases",
        data={"questionnaire": json.dumps(questionnaire)},
        files=[("photos", ("p.jpg", good_jpeg(seed), "image/jpeg"))],
        headers=org.headers("intake", **{"Idempotency-Key": str(uuid.uuid4())}),
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _row(case_id: str, section: str = "") -> str:
    return f"document.querySelector('{section} tr[data-case=\"{case_id}\"]') !== null"


def test_the_queue_updates_live_and_rows_open_their_case(browser, live):  # noqa: F811
    base, org, api, sessions, user_id = live
    ids = [
        _submit(api, org, {**QUESTIONNAIRE, "body_site": site, "concern": concern, "age": 30 + i}, i)
        for i, (site, concern) in enumerate(CONCERNS)
    ]
    asked = ids[2]
    assert claim(api, org, asked).status_code == 200
    question = {"body": "Has it bled?", "question": True}
    r = api.post(f"/v1/cases/{asked}/messages", json=question, headers=org.headers("dermatologist"))
    assert r.status_code == 201, r.text

    context = browser.new_context(viewport=LAPTOP, device_scale_factor=1)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, base, org)
    rows = page.locator("section[aria-labelledby=queue-title] tbody tr")
    assert set(rows.evaluate_all("rows => rows.map(r => r.dataset.case)")) == set(ids[:2])
    assert page.locator(".row-thumb").first.evaluate("img => img.complete && img.naturalWidth > 0")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    # an emergency through the API: its row and the alert banner within 5 s, no reload
    emergency = _submit(api, org, EMERGENCY, 9)
    started = time.monotonic()
    until(page, _row(emergency, "section.emergency-box"), timeout=5)
    until(page, "document.querySelector('#queue-alerts .queue-alert-emergency a') !== null", timeout=1)
    assert time.monotonic() - started <= 5
    assert page.evaluate("window.__sameDocument === true")
    banner = page.locator("#queue-alerts")
    assert banner.get_attribute("role") == "alert"
    assert banner.get_by_role("link", name="Open the case").get_attribute("href") == f"/cases/{emergency}"
    assert "New emergency" in banner.inner_text() and "52 · female" in banner.inner_text()

    # the patient answers the question: the case is back, live, with its badge
    r = api.post(f"/v1/cases/{asked}/messages", json={"body": "Yes, twice."}, headers=org.headers())
    assert r.status_code == 201, r.text
    until(page, _row(asked, "section[aria-labelledby=queue-title]"), timeout=5)
    badge = page.locator(f'tr[data-case="{asked}"] .returning')
    assert badge.inner_text() == "Patient replied"
    until(page, "document.querySelector('#queue-notices .queue-alert-returning') !== null", timeout=1)
    assert page.evaluate("window.__sameDocument === true")
    shot(page, "queue-live-alert-laptop.png")

    page.set_viewport_size(TABLET)
    shot(page, "queue-rows-tablet.png")
    page.set_viewport_size(LAPTOP)

    # keyboard: the row's link is its focus target and opens the case
    link = page.locator(f'tr[data-case="{ids[0]}"] a.row-link')
    link.focus()
    assert page.evaluate("document.activeElement.classList.contains('row-link')")
    # a click anywhere on a row (here its body site) opens the case
    page.locator(f'tr[data-case="{ids[1]}"] td.site').click()
    page.wait_for_url(f"{base}/cases/{ids[1]}")
    page.go_back()
    page.wait_for_url(f"{base}/queue")
    # the emergency's "Take now" still claims rather than opening the case
    page.locator(f'tr[data-case="{emergency}"]').get_by_role("button", name="Take now").click()
    page.wait_for_url(f"{base}/cases/{emergency}?done=claimed")

    # the session ends (signed out elsewhere, or idle): the page says so and stops polling
    page.goto(f"{base}/queue")
    with transaction(sessions) as session:
        session.execute(update(WebSession).where(WebSession.user_id == user_id).values(ended_at=utcnow()))
    polls: list[int] = []
    page.on("response", lambda r: polls.append(r.status) if "/queue/live" in r.url else None)
    until(page, "document.querySelector('#queue-alerts .queue-alert-signed-out') !== null", timeout=8)
    assert page.get_by_role("link", name="Sign in again").get_attribute("href") == "/sign-in?next=%2Fqueue"
    assert "Signed out" in page.inner_text("#live-state")
    page.wait_for_timeout(4000)
    assert polls.count(401) == 1 and polls[-1] == 401  # refused once, then no more polling
    assert errors == []
    context.close()


def test_the_sound_toggle_is_off_by_default_and_remembered(browser, live):  # noqa: F811
    base, org, api, sessions, user_id = live
    context = browser.new_context(viewport=LAPTOP, device_scale_factor=1)
    page = context.new_page()
    sign_in(page, base, org)
    toggle = page.get_by_label("Sound for new emergencies")
    assert not toggle.is_checked()
    toggle.check()
    page.reload()
    assert page.get_by_label("Sound for new emergencies").is_checked()
    assert page.evaluate("localStorage.getItem('dermatriage.queue.sound')") == "on"
    context.close()

"""The patient on the case page in a real browser (Debian's chromium, as ``test_web_browser``): the
panel and the lesion timeline above the fold on a laptop, a timeline photo opening in the zoom, the
prior case's link; screenshots in var/test-artifacts/screenshots/. Skips without chromium (fails
under CI), like the other browser tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx2 as httpx
import pytest
from conftest import make_org, service_settings
from consults_support import DIAGNOSIS, claim
from patients_support import case_of
from test_concurrent_retries import LiveServer
from test_web_browser import LAPTOP, TABLET, _shot, _sign_in, browser  # noqa: F401 (a fixture)
from web_support import default_dermatologist

from serving.app import create_app
from serving.cases import intake
from serving.db import make_engine, make_session_factory

PATIENT = {"external_id": "emr-2002", "birth_year": 1958, "sex": "male", "display_name": "Bob Example"}
FIRST_AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@pytest.fixture
def live(sqlite_url, tmp_path):
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine)
    org = make_org(sessions)
    default_dermatologist(sessions, org.org_id)
    app = create_app(service_settings(sqlite_url, tmp_path / "photos"))
    with LiveServer(app) as base, httpx.Client(base_url=base, timeout=60) as api:
        yield base, org, api
    engine.dispose()


def test_the_case_page_shows_the_patient_and_the_lesion_timeline(browser, live, monkeypatch):  # noqa: F811
    base, org, api = live
    cases = []
    for days, seed in ((0, 1), (91, 2), (182, 3)):  # three months apart
        monkeypatch.setattr(intake, "utcnow", lambda d=days: FIRST_AT + timedelta(days=d))
        case = case_of(api, org, PATIENT, seed=seed, lesion_label="mole left shoulder", body_site="back")
        cases.append(case)
    monkeypatch.undo()
    first, _, current = cases
    assert claim(api, org, first["id"]).status_code == 200
    r = api.post(
        f"/v1/cases/{first['id']}/diagnosis",
        json={**DIAGNOSIS, "code": "D22.9", "certainty": "confirmed"},
        headers=org.headers("dermatologist"),
    )
    assert r.status_code == 201, r.text

    context = browser.new_context(viewport=LAPTOP, device_scale_factor=1)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _sign_in(page, base, org)
    page.goto(f"{base}/cases/{current['id']}")

    panel = page.locator("section[aria-labelledby=patient-title]")
    timeline = page.locator("section[aria-labelledby=timeline-title]")
    assert panel.is_visible() and timeline.is_visible()
    assert "Bob Example" in panel.inner_text() and page.inner_text("#prior-count") == "2 prior cases"
    photos = timeline.locator("a.timeline-photo")
    assert photos.count() == 3
    assert timeline.locator("time").all_inner_texts() == ["05 Jan 2026", "06 Apr 2026", "06 Jul 2026"]
    page.wait_for_function(
        "[...document.querySelectorAll('.timeline img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    for section in (panel, timeline):  # above the fold on a laptop
        box = section.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= LAPTOP["height"], box
    assert page.locator("#stage-img").bounding_box()["y"] < LAPTOP["height"]  # today's photo starts in view
    _shot(page, "case-patient-laptop.png", full_page=False)

    # the oldest photo opens in the zoom, as a thumbnail does
    photos.first.click()
    dialog = page.locator("dialog#zoom")
    assert dialog.is_visible()
    assert f"/cases/{first['id']}/photos/" in page.locator("#zoom-img").get_attribute("src")
    page.wait_for_function("document.getElementById('zoom-img').naturalWidth > 0")
    assert page.locator("#zoom-img").bounding_box()["width"] > 100
    assert "05 Jan 2026" in page.inner_text("#stage-caption")
    _shot(page, "case-patient-zoom-laptop.png", full_page=False)
    page.keyboard.press("Escape")
    assert not dialog.is_visible()

    page.set_viewport_size(TABLET)
    _shot(page, "case-patient-tablet.png", full_page=False)
    page.set_viewport_size(LAPTOP)

    # the prior case's link opens its page, where this case is a later one
    panel.get_by_role("link", name="05 Jan 2026").click()
    page.wait_for_url(f"{base}/cases/{first['id']}")
    assert page.inner_text("#prior-count") == "0 prior cases"
    assert page.locator(".timeline li.current time").inner_text() == "05 Jan 2026"
    assert errors == []
    context.close()

"""The patient on the case page in a real browser (Debian's chromium, as ``test_web_browser``): the
panel and the lesion timeline above the fold on a laptop, a timeline photo opening in the zoom, the
prior case's link; the earlier cases' outcomes (pathology, else diagnosis) in the panel and under
their photos, and a pathology result recorded with the page's form on a closed case (a refused date
shown beside the form first), at laptop and tablet sizes with nothing overflowing the page;
screenshots in var/test-artifacts/screenshots/. Skips without chromium (fails under CI), like the
other browser tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from browser_support import LAPTOP, TABLET, browser, live_service, shot, sign_in, until  # noqa: F401 (a fixture)
from consults_support import DIAGNOSIS, claim
from patients_support import case_of

from serving.cases import intake
from serving.db import utcnow

PATIENT = {"external_id": "emr-2002", "birth_year": 1958, "sex": "male", "display_name": "Bob Example"}
FIRST_AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@pytest.fixture
def live(sqlite_url, tmp_path):
    with live_service(sqlite_url, tmp_path) as s:
        yield s.base, s.org, s.api


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
    sign_in(page, base, org)
    page.goto(f"{base}/cases/{current['id']}")

    panel = page.locator("section[aria-labelledby=patient-title]")
    timeline = page.locator("section[aria-labelledby=timeline-title]")
    assert panel.is_visible() and timeline.is_visible()
    assert "Bob Example" in panel.inner_text() and page.inner_text("#prior-count") == "2 prior cases"
    photos = timeline.locator("a.timeline-photo")
    assert photos.count() == 3
    assert timeline.locator("time").all_inner_texts() == ["05 Jan 2026", "06 Apr 2026", "06 Jul 2026"]
    until(
        page, "[...document.querySelectorAll('.timeline img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    for section in (panel, timeline):  # above the fold on a laptop
        box = section.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= LAPTOP["height"], box
    assert page.locator("#stage-img").bounding_box()["y"] < LAPTOP["height"]  # today's photo starts in view
    shot(page, "case-patient-laptop.png", full_page=False)

    # the oldest photo opens in the zoom, as a thumbnail does
    photos.first.click()
    dialog = page.locator("dialog#zoom")
    assert dialog.is_visible()
    assert f"/cases/{first['id']}/photos/" in page.locator("#zoom-img").get_attribute("src")
    until(page, "document.getElementById('zoom-img').naturalWidth > 0")
    assert page.locator("#zoom-img").bounding_box()["width"] > 100
    assert "05 Jan 2026" in page.inner_text("#stage-caption")
    shot(page, "case-patient-zoom-laptop.png", full_page=False)
    page.keyboard.press("Escape")
    assert not dialog.is_visible()

    page.set_viewport_size(TABLET)
    shot(page, "case-patient-tablet.png", full_page=False)
    page.set_viewport_size(LAPTOP)

    # the prior case's link opens its page, where this case is a later one
    panel.get_by_role("link", name="05 Jan 2026").click()
    page.wait_for_url(f"{base}/cases/{first['id']}")
    assert page.inner_text("#prior-count") == "0 prior cases"
    assert page.locator(".timeline li.current time").inner_text() == "05 Jan 2026"
    assert errors == []
    context.close()


#: the page fits its width: no sideways scrolling of the whole page
NO_OVERFLOW = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
CAROL = {"external_id": "emr-4004", "birth_year": 1949, "sex": "female", "display_name": "Carol Example"}
LESION = "pigmented mole below the left shoulder blade"
REPORT = (
    "Excision, left upper back: nodular basal cell carcinoma, 4 mm, margins clear (closest 2 mm).\n"
    "No perineural or lymphovascular invasion."
)


def _api(api, org, case_id: str, path: str, body: dict) -> None:
    r = api.post(f"/v1/cases/{case_id}/{path}", json=body, headers=org.headers("dermatologist"))
    assert r.status_code in (200, 201), r.text


def _fits(page, what: str) -> None:
    assert page.evaluate(NO_OVERFLOW), f"{what}: the page scrolls sideways"
    inside = page.evaluate(
        """() => [...document.querySelectorAll('.patient-strip .card, #pathology')].every(
             c => c.scrollWidth <= c.clientWidth + 1)"""
    )
    assert inside, f"{what}: a card's content overflows it"


def test_earlier_outcomes_and_a_pathology_result_from_the_page(browser, live, monkeypatch):  # noqa: F811
    base, org, api = live
    cases = []
    for days, seed in ((0, 4), (60, 5), (120, 6)):  # two earlier cases of the lesion, then today's
        monkeypatch.setattr(intake, "utcnow", lambda d=days: FIRST_AT + timedelta(days=d))
        cases.append(case_of(api, org, CAROL, seed=seed, lesion_label=LESION, body_site="back"))
    monkeypatch.undo()
    biopsied, seen, current = (c["id"] for c in cases)
    for case_id, code in ((biopsied, "D22.9"), (seen, "L82.1")):
        assert claim(api, org, case_id).status_code == 200
        _api(api, org, case_id, "diagnosis", {**DIAGNOSIS, "code": code, "certainty": "confirmed"})
    _api(
        api,
        org,
        biopsied,
        "pathology",
        {"icd10": "C43.9", "reported_on": "2026-01-20", "report": "Melanoma."},
    )
    _api(api, org, seen, "close", {"reason": "Seborrheic keratosis; shave biopsy sent to be sure."})
    assert claim(api, org, current).status_code == 200

    context = browser.new_context(viewport=LAPTOP, device_scale_factor=1)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, base, org)
    page.goto(f"{base}/cases/{current}")

    # the panel: each earlier case with its outcome, the biopsy beside the dermatologist's diagnosis
    rows = page.locator(".prior-cases li")
    assert page.inner_text("#prior-count") == "2 prior cases" and rows.count() == 2
    newer, older = rows.all_inner_texts()
    assert newer.startswith("06 Mar 2026") and "not malignant" in newer and "L82.1" in newer
    assert "Pathology: C43.9" in older and "malignant" in older and "Diagnosis: D22.9" in older
    assert page.evaluate("(l => l.scrollHeight <= l.clientHeight)(document.querySelector('.prior-cases'))")
    outcomes = page.locator(".timeline .tl-outcome").all_inner_texts()
    assert outcomes == ["Pathology: C43.9, malignant", "Diagnosis: L82.1, not malignant"]
    until(
        page, "[...document.querySelectorAll('.timeline img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    _fits(page, "laptop")
    shot(page, "case-patient-outcomes-laptop.png", full_page=False)
    page.set_viewport_size(TABLET)
    _fits(page, "tablet")
    shot(page, "case-patient-outcomes-tablet.png", full_page=False)
    page.set_viewport_size(LAPTOP)

    # the report of the closed case comes back: its page takes it
    page.locator(".prior-cases").get_by_role("link", name="06 Mar 2026").click()
    page.wait_for_url(f"{base}/cases/{seen}")
    assert "A pathology result can still be recorded" in page.inner_text("main")
    area = page.locator("#pathology")
    assert "No pathology result recorded." in area.inner_text()
    assert "From Dermatologist's diagnosis" in " ".join(area.locator("#outcome-label").inner_text().split())
    area.get_by_text("Record a pathology result").click()
    code = page.get_by_label("Histopathology finding (ICD-10-CM)")
    code.fill("C44.91 — Basal cell carcinoma of skin, unspecified")
    future = (utcnow() + timedelta(days=5)).date().isoformat()
    page.get_by_label("Report date").fill(future)
    page.get_by_label("Report text").fill(REPORT)
    area.get_by_role("button", name="Record the pathology result").click()
    page.wait_for_load_state()
    problem = page.locator("#pathology-problem")
    assert problem.is_visible() and "is in the future" in problem.inner_text()
    assert page.get_by_label("Report date").get_attribute("aria-invalid") == "true"
    assert (
        code.input_value().startswith("C44.91") and page.get_by_label("Report text").input_value() == REPORT
    )
    problem.scroll_into_view_if_needed()
    _fits(page, "the refused form")
    shot(page, "case-pathology-error-laptop.png", full_page=False)

    page.get_by_label("Report date").fill(utcnow().date().isoformat())
    area.get_by_role("button", name="Record the pathology result").click()
    page.wait_for_url(f"{base}/cases/{seen}?done=pathology")
    assert "Pathology result recorded" in page.inner_text("p.notice")
    results = page.locator("#pathology-results li")
    assert results.count() == 1 and "C44.91" in results.inner_text() and "Dr. Default" in results.inner_text()
    label = " ".join(page.inner_text("#outcome-label").split())
    assert (
        "From Pathology" in label
        and "BCC (basal cell carcinoma)" in label
        and "Malignancy malignant" in label
    )
    page.locator("#pathology-title").scroll_into_view_if_needed()
    _fits(page, "laptop")
    shot(page, "case-pathology-laptop.png", full_page=False)
    page.set_viewport_size(TABLET)
    page.locator("#pathology-title").scroll_into_view_if_needed()
    _fits(page, "tablet")
    shot(page, "case-pathology-tablet.png", full_page=False)
    page.set_viewport_size(LAPTOP)

    # back on today's case, the earlier case's outcome is now the biopsy's
    page.goto(f"{base}/cases/{current}")
    newer = page.locator(".prior-cases li").first.inner_text()
    assert "Pathology: C44.91" in newer and "Diagnosis: L82.1" in newer
    assert page.locator(".timeline .tl-outcome").all_inner_texts()[1] == "Pathology: C44.91, malignant"
    assert errors == []
    context.close()

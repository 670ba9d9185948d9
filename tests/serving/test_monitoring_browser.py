"""The "Model performance" page in a real browser (Debian's chromium, as ``test_web_browser``): reached
from the navigation, its charts drawn and inside the page's width on a laptop (1366x900) and a tablet
in portrait (820x1180), the window picker, a ROUTINE-malignant case's link opening its page, the empty
state; screenshots in var/test-artifacts/screenshots/. Skips without chromium (fails under CI), like
the other browser tests."""

from __future__ import annotations

import pytest
from browser_support import LAPTOP, TABLET, browser, live_service, shot, sign_in, until  # noqa: F401 (a fixture)
from conftest import make_org
from monitoring_support import Spec, make, read_as
from web_support import default_dermatologist

#: a small service's quarter: malignant and benign outcomes, one melanoma triaged ROUTINE, a blurred photo
CASES = [
    (Spec("URGENT", pathology="C43.9"), 0.42),
    (Spec("URGENT", diagnoses=(("C44.91", "confirmed"),)), 0.31),
    (Spec("PRIORITY", pathology="C44.92"), 0.12),
    (Spec("ROUTINE", pathology="C43.9"), 0.05),
    (Spec("ROUTINE", diagnoses=(("D22.9", "confirmed"),)), 0.03),
    (Spec("ROUTINE", diagnoses=(("L82.1", "confirmed"),)), 0.08),
    (Spec("URGENT", diagnoses=(("D22.9", "confirmed"),)), 0.2),
    (Spec("PRIORITY", photo="blurred", diagnoses=(("D22.9", "confirmed"),)), 0.02),
    (Spec("ROUTINE", dermatologist_retake=True), None),
    (Spec("ROUTINE", photo="blurred"), None),
]


@pytest.fixture
def live(sqlite_url, tmp_path):
    with live_service(sqlite_url, tmp_path) as s:
        yield s.base, s.org, s.api, s.sessions


def _fits(page, width: int) -> None:
    """Nothing wider than the viewport: no horizontal scrolling, every chart inside the page."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for box in page.locator("svg.chart").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().toJSON())"
    ):
        assert box["width"] > 200 and box["right"] <= width, box


def test_the_model_performance_page_in_a_browser(browser, live):  # noqa: F811
    base, org, api, sessions = live
    ids = []
    for seed, (spec, malignancy) in enumerate(CASES):
        case_id = make(api, org, spec, seed=seed)
        ids.append(case_id)
        if malignancy is not None:
            read_as(sessions, case_id, malignancy)
    missed = ids[3]

    context = browser.new_context(viewport=LAPTOP, device_scale_factor=1)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, base, org)
    page.get_by_role("link", name="Model performance").click()
    page.wait_for_url(f"{base}/model-performance")
    assert page.inner_text("#fig-submitted") == "10" and page.inner_text("#fig-routine-malignant") == "1"
    for chart in ("#tiers-chart", "#calibration-chart", "#answers-chart", "#mix-chart", "#sizes-chart"):
        assert page.locator(chart).is_visible(), chart
    assert page.locator("#tiers-chart line.ci").count() == 12  # 4 intervals, each a bar and two caps
    assert page.locator("#calibration-chart circle.dot").count() == 2  # 8 cases with a reading: 2 bins of 4
    assert page.locator("svg .alert-mark").count() >= 1 and page.locator("#drift-alerts").is_visible()
    # the two top charts sit side by side, above the fold
    tiers, calibration = (page.locator(s).bounding_box() for s in ("#tiers-chart", "#calibration-chart"))
    assert abs(tiers["y"] - calibration["y"]) < 40 and tiers["x"] < calibration["x"]
    assert tiers["y"] + tiers["height"] <= LAPTOP["height"]
    _fits(page, LAPTOP["width"])
    shot(page, "model-performance-laptop.png")
    shot(page, "model-performance-laptop-fold.png", full_page=False)

    page.set_viewport_size(TABLET)
    _fits(page, TABLET["width"])
    tiers, calibration = (page.locator(s).bounding_box() for s in ("#tiers-chart", "#calibration-chart"))
    assert calibration["y"] > tiers["y"] + tiers["height"]  # one column on a tablet
    shot(page, "model-performance-tablet.png")
    page.set_viewport_size(LAPTOP)

    # the missed melanoma's link opens its case page
    page.locator("#routine-malignant").get_by_role("link", name=missed[:8]).click()
    page.wait_for_url(f"{base}/cases/{missed}")
    page.go_back()

    # a window with no case: the empty state says what will appear
    with_nothing = make_org(sessions)
    default_dermatologist(sessions, with_nothing.org_id, login="derm")
    other = browser.new_context(viewport=TABLET, device_scale_factor=1)
    empty = other.new_page()
    sign_in(empty, base, with_nothing)
    empty.goto(f"{base}/model-performance")
    empty.get_by_role("link", name="30 days").first.click()
    empty.wait_for_url(f"{base}/model-performance?window_days=30")
    assert "No case submitted in the last 30 days" in empty.inner_text("#empty-state")
    shot(empty, "model-performance-empty-tablet.png")
    other.close()
    assert errors == []
    context.close()

"""Sign and release in a real browser (Debian's chromium, as ``test_web_browser``): a diagnosis with
accents and a prescription drafted on the case page (the patient is told nothing: no event), listed
under "Sign and release"; released with the confirm box (one ``consult.released`` event); the note shown
as released with Print and Download PDF; the PDF downloaded and opened (pypdf) for its diagnosis code,
drug, signer and accents; the printable note under print media. Screenshots consult-note-laptop.png,
consult-note-tablet.png and consult-note-print-laptop.png in var/test-artifacts/screenshots/, each
checked by axe-core. Skips without chromium (fails under CI), like the other browser tests."""

from __future__ import annotations

import io

import pytest
from browser_support import LAPTOP, TABLET, browser, live_service, shot, sign_in  # noqa: F401 (a fixture)
from consults_support import claim, event_types
from patients_support import case_of
from pypdf import PdfReader

from serving.events import types

PATIENT = {"external_id": "emr-3003", "birth_year": 1984, "sex": "female", "display_name": "Zoë Ébrard"}
PLAN = "Appliquez la crème le soir; évitez le soleil. We will check again in 4 weeks."


@pytest.fixture
def live(sqlite_url, tmp_path):
    with live_service(sqlite_url, tmp_path) as s:
        yield s.base, s.org, s.api, s.sessions


def test_draft_sign_release_print_and_download(browser, live, tmp_path):  # noqa: F811
    base, org, api, sessions = live
    case = case_of(api, org, PATIENT, seed=5)
    assert claim(api, org, case["id"]).status_code == 200
    context = browser.new_context(viewport=LAPTOP, device_scale_factor=1, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, base, org)
    url = f"{base}/cases/{case['id']}"
    page.goto(url)
    assert "Nothing drafted yet" in page.inner_text("#consult-note")

    # draft: a diagnosis and a prescription, told to no one yet
    page.get_by_label("Diagnosis (ICD-10-CM)").fill("L40.0 — Psoriasis vulgaris")
    page.get_by_label("Details the code does not say").fill("Plaques érythémato-squameuses des coudes.")
    page.get_by_label("Assessment (for the record)").fill("Well-demarcated plaques on both elbows.")
    page.get_by_label("Plan, in words for the patient").fill(PLAN)
    page.get_by_role("button", name="Record the diagnosis").click()
    page.wait_for_url(f"{url}?done=diagnose")
    assert "sign and release" in page.inner_text("p.notice")
    page.get_by_label("Medication (formulary)").fill("10753 — tretinoin")
    page.get_by_label("Form", exact=True).select_option("cream")
    page.get_by_label("Strength", exact=True).select_option("0.05%")
    page.get_by_label("Directions for the patient").fill("Apply a thin layer at bedtime.")
    page.get_by_label("Quantity").fill("45")
    page.get_by_label("Refills").fill("1")
    page.get_by_role("button", name="Issue the prescription").click()
    page.wait_for_url(f"{url}?done=prescribe")
    assert types.CASE_DIAGNOSED not in event_types(sessions, case["id"])
    assert types.PRESCRIPTION_ISSUED not in event_types(sessions, case["id"])
    draft = page.inner_text("#note-draft")
    for expected in ("L40.0", "Psoriasis vulgaris", PLAN, "tretinoin 0.05% cream", "Apply a thin layer"):
        assert expected in draft, (expected, draft)
    page.locator("#consult-note").scroll_into_view_if_needed()
    shot(page, "consult-note-laptop.png")

    # sign and release: the confirm box is required
    page.get_by_label("I have reviewed the diagnosis").check()
    page.get_by_role("button", name="Sign and release").click()
    page.wait_for_url(f"{url}?done=note")
    released = page.inner_text("#note-released")
    assert "Consult note 1 released" in released and "Dr. Default" in released and "US-CA" in released
    assert event_types(sessions, case["id"]).count(types.CONSULT_RELEASED) == 1
    page.set_viewport_size(TABLET)
    page.locator("#consult-note").scroll_into_view_if_needed()
    shot(page, "consult-note-tablet.png")
    page.set_viewport_size(LAPTOP)

    # download the PDF and open it
    with page.expect_download() as caught:
        page.locator("#note-released").get_by_role("link", name="Download PDF").click()
    download = caught.value
    assert download.suggested_filename == f"consult-note-{case['id'][:8]}-1.pdf"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    reader = PdfReader(io.BytesIO(path.read_bytes()))
    text = "\n".join(p.extract_text() for p in reader.pages)
    for expected in (
        "L40.0",
        "Psoriasis vulgaris",
        "tretinoin 0.05% cream",
        "Dr. Default",
        "US-CA",
        "Zoë Ébrard",
        "Plaques érythémato-squameuses",
        "évitez le soleil",
    ):
        assert expected in text, (expected, text)

    # the printable note: print media hides the navigation and the buttons
    page.locator("#note-released").get_by_role("link", name="Print").click()
    page.wait_for_url(f"{url}/consult-note?number=1")
    assert page.get_by_role("button", name="Print").is_visible()
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    assert not page.get_by_role("button", name="Print").is_visible()
    note = page.inner_text("article.consult-note")
    assert "Zoë Ébrard" in note and "L40.0" in note and "Content SHA-256" in note
    shot(page, "consult-note-print-laptop.png")
    page.emulate_media(media="screen")
    assert not errors, errors
    context.close()

"""Issue 15 in a real browser (Debian's chromium, as ``test_web_browser``): the case at a glance above
the fold on a laptop and a tablet, times in the user's zone with UTC on hover; an admin creating a user
from the users page. Screenshots case-glance-laptop.png, case-glance-tablet.png and
admin-create-user-laptop.png (axe-core on each). Skips without chromium (fails under CI)."""

from __future__ import annotations

import pytest
from browser_support import LAPTOP, TABLET, browser, live_service, shot, sign_in  # noqa: F401 (a fixture)
from consults_support import DIAGNOSIS, claim
from patients_support import case_of
from web_support import PASSWORD, with_password

from serving.db import transaction
from serving.people.models import User

PATIENT = {"external_id": "emr-7007", "birth_year": 1961, "sex": "female", "display_name": "Dana Example"}
CONCERN = "It bleeds when I dry my face and it has grown over the summer."


@pytest.fixture
def live(sqlite_url, tmp_path):
    with live_service(sqlite_url, tmp_path) as s:
        yield s.base, s.org, s.api, s.sessions, s.derm_id


def test_the_case_at_a_glance_above_the_fold(browser, live):  # noqa: F811
    base, org, api, sessions, derm_id = live
    earlier = case_of(api, org, PATIENT, seed=1, body_site="face", lesion_label="nose papule")
    assert claim(api, org, earlier["id"]).status_code == 200
    r = api.post(
        f"/v1/cases/{earlier['id']}/diagnosis",
        json={**DIAGNOSIS, "code": "L57.0", "certainty": "confirmed"},
        headers=org.headers("dermatologist"),
    )
    assert r.status_code == 201, r.text
    current = case_of(
        api,
        org,
        PATIENT,
        seed=2,
        body_site="face",
        lesion_label="nose papule",
        age=64,
        sex="female",
        duration_days=120,
        size_mm=6,
        bleeding=True,
        grew=True,
        concern=CONCERN,
    )
    assert claim(api, org, current["id"]).status_code == 200
    with transaction(sessions) as session:
        session.get(User, derm_id).time_zone = "America/Los_Angeles"

    context = browser.new_context(viewport=LAPTOP, device_scale_factor=1)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, base, org)
    page.goto(f"{base}/cases/{current['id']}")
    glance = page.locator("#glance")
    text = glance.inner_text()
    for expected in (
        "Age\n64" if "\n" in text else "Age 64",
        "female",
        "face",
        "120 days (about 4 months)",
        "6 mm",
    ):
        assert expected in text, (expected, text)
    assert CONCERN in text and "Bleeding" in text and "Grew" in text
    assert "Triage:" in text and "L57.0 Actinic keratosis" in text  # the earlier case's diagnosis
    box = glance.bounding_box()
    assert box["y"] + box["height"] < LAPTOP["height"], box
    # times in the user's zone, UTC on hover
    submitted = page.locator(".page-head time").first
    assert submitted.inner_text().endswith(("PST", "PDT")) and submitted.get_attribute("title").endswith(
        "UTC"
    )
    shot(page, "case-glance-laptop.png", full_page=False)

    page.set_viewport_size(TABLET)
    box = glance.bounding_box()
    assert box["y"] + box["height"] < TABLET["height"], box
    shot(page, "case-glance-tablet.png", full_page=False)
    assert errors == []
    context.close()


def test_an_admin_creates_a_user_from_the_page(browser, live):  # noqa: F811
    base, org, api, sessions, _ = live
    with_password(sessions, org.org_id, login="boss", role="admin", name="Ada Admin")
    context = browser.new_context(viewport=LAPTOP, device_scale_factor=1)
    page = context.new_page()
    sign_in(page, base, org, login="boss")
    page.goto(f"{base}/admin/users")
    page.locator("#action-create summary").click()
    page.get_by_label("Name", exact=True).fill("Dr. Grace Hopper")
    page.get_by_label("Role").select_option("dermatologist")
    page.get_by_label("Licensed in (dermatologists)").fill("US-CA, US-NY")
    page.get_by_label("Sign-in name").first.fill("grace")
    page.get_by_label("Initial password (at least 12 characters)").fill(PASSWORD)
    page.get_by_label("The same again").first.fill(PASSWORD)
    page.get_by_role("button", name="Create the user").click()
    page.wait_for_load_state()
    created = page.locator("#user-created")
    assert "Dr. Grace Hopper can sign in now as grace" in created.inner_text()
    assert "US-CA, US-NY" in page.locator("#users").inner_text()
    shot(page, "admin-create-user-laptop.png", full_page=False)
    context.close()

    # the new user signs in with what the admin typed
    other = browser.new_context(viewport=LAPTOP, device_scale_factor=1)
    page = other.new_page()
    sign_in(page, base, org, login="grace")
    assert "Dr. Grace Hopper" in page.locator(".who").inner_text()
    other.close()

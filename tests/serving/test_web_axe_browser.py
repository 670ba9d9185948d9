"""axe-core on every page (Debian's chromium, as ``test_web_browser``), at laptop and tablet sizes: signed
out (sign-in, with and without a form error), a dermatologist's queue, case page (with a patient, a
released consult note), the note's printable page, dashboard, model performance and account page, and
an admin's users, waiting-cases and queue pages. A violation (WCAG 2.1 A/AA, best practices) fails the
test with the rule and the elements. Skips without chromium (fails under CI), like the other browser
tests."""

from __future__ import annotations

import pytest
from browser_support import LAPTOP, TABLET, assert_accessible, browser, live_service, sign_in, until  # noqa: F401
from consults_support import DIAGNOSIS, claim
from patients_support import case_of
from web_support import with_password

PATIENT = {"external_id": "emr-axe-1", "birth_year": 1971, "sex": "female", "display_name": "Ada Axe"}


@pytest.fixture
def live(sqlite_url, tmp_path):
    with live_service(sqlite_url, tmp_path) as s:
        with_password(s.sessions, s.org.org_id, login="boss", role="admin", name="Admin Boss")
        yield s.base, s.org, s.api


def _released_case(api, org) -> str:
    """A case of a patient with an earlier case, diagnosed as a draft and released as a consult note."""
    case_of(api, org, PATIENT, seed=1, lesion_label="mole on the back")
    case = case_of(api, org, PATIENT, seed=2, lesion_label="mole on the back")
    assert claim(api, org, case["id"]).status_code == 200
    derm = org.headers("dermatologist")
    r = api.post(f"/v1/cases/{case['id']}/diagnosis", json={**DIAGNOSIS, "draft": True}, headers=derm)
    assert r.status_code == 201, r.text
    r = api.post(f"/v1/cases/{case['id']}/consult-note", json={"confirm": True}, headers=derm)
    assert r.status_code == 201, r.text
    return case["id"]


def test_every_page_passes_axe_core(browser, live):  # noqa: F811
    base, org, api = live
    case_id = _released_case(api, org)
    queued = case_of(api, org, None, seed=3)["id"]
    for size, viewport in (("laptop", LAPTOP), ("tablet", TABLET)):
        context = browser.new_context(viewport=viewport, device_scale_factor=1)
        page = context.new_page()
        page.goto(f"{base}/sign-in")
        assert_accessible(page, f"/sign-in ({size})")
        page.get_by_label("Organization").fill(org.slug)
        page.get_by_label("Sign-in name").fill("derm")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        until(page, "!!document.getElementById('sign-in-problem')")
        assert_accessible(page, f"/sign-in with an error ({size})")

        sign_in(page, base, org)
        for path in (
            "/queue",
            f"/cases/{case_id}",
            f"/cases/{queued}",
            f"/cases/{case_id}/consult-note",
            "/dashboard",
            "/model-performance",
            "/account",
        ):
            page.goto(f"{base}{path}")
            assert page.url.startswith(f"{base}{path.split('?')[0]}"), (path, page.url)
            assert_accessible(page, f"{path} as a dermatologist ({size})")
        context.close()

        context = browser.new_context(viewport=viewport, device_scale_factor=1)
        page = context.new_page()
        sign_in(page, base, org, login="boss")
        for path in ("/admin/users", "/admin/waiting", "/queue", f"/cases/{case_id}"):
            page.goto(f"{base}{path}")
            assert page.url.startswith(f"{base}{path}"), (path, page.url)
            assert_accessible(page, f"{path} as an admin ({size})")
        context.close()

"""What every browser test shares: Debian's chromium driven headless by Playwright (never a downloaded
browser), the two screen sizes, screenshots, signing in through the page, waiting under the pages'
Content-Security-Policy, and axe-core (bundled with ``axe-playwright-python``) run on a page: an
accessibility violation fails the test.

Without chromium (or the playwright package) the browser tests skip, except under CI (``CI`` set),
where they fail: CI must run them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest
from chromium import launched
from conftest import OrgKeys, make_org, service_settings
from test_concurrent_retries import LiveServer
from web_support import PASSWORD, default_dermatologist

from serving.app import create_app
from serving.db import make_engine, make_session_factory

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "screenshots"
LAPTOP = {"width": 1366, "height": 900}
TABLET = {"width": 820, "height": 1180}
#: the WCAG levels axe-core checks
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


@dataclass(frozen=True)
class Live:
    """A live server of the pages: its base URL, an organization whose dermatologist signs in as
    ``derm`` (``derm_id``), an HTTP client for the API, the database's sessions."""

    base: str
    org: OrgKeys
    api: httpx.Client
    sessions: object
    derm_id: str


@contextmanager
def live_service(sqlite_url: str, tmp_path: Path, **settings) -> Iterator[Live]:
    """``dermatriage``'s app served on a free port over SQLite, with ``settings`` overriding the test
    defaults (e.g. ``web_idle_minutes``)."""
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine)
    org = make_org(sessions)
    derm_id = default_dermatologist(sessions, org.org_id)
    app = create_app(service_settings(sqlite_url, tmp_path / "photos", **settings))
    try:
        with LiveServer(app) as base, httpx.Client(base_url=base, timeout=60) as api:
            yield Live(base, org, api, sessions, derm_id)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def browser():
    with launched() as chromium:
        yield chromium


def shot(page, name: str, *, full_page: bool = True, accessible: bool = True) -> None:
    """A screenshot of the page as it is, and axe-core on the same state (every page and state a
    screenshot shows is checked for accessibility)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)
    if accessible:
        assert_accessible(page, name)


def sign_in(page, base: str, org, *, login: str = "derm", landing: str = "/queue") -> None:
    """Sign in through the sign-in page (reached by opening ``landing`` signed out)."""
    page.goto(f"{base}{landing}")
    assert "/sign-in" in page.url
    page.get_by_label("Organization").fill(org.slug)
    page.get_by_label("Sign-in name").fill(login)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}{landing}")


def until(page, expression: str, timeout: float = 15.0) -> None:
    """Wait until ``expression`` is true in the page. Polled from here: ``page.wait_for_function``
    polls with an eval, which the pages' Content-Security-Policy (no 'unsafe-eval') refuses."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"never true: {expression}"
        page.wait_for_timeout(50)


def axe_violations(page) -> list[str]:
    """axe-core's violations on the page as it is now (WCAG 2.1 A and AA, and best practices), one line
    each: rule, impact, and the first few elements."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
    lines = []
    for violation in results.response["violations"]:
        targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} — {targets}")
    return lines


def assert_accessible(page, where: str) -> None:
    found = axe_violations(page)
    assert not found, f"axe-core on {where}:\n  " + "\n  ".join(found)

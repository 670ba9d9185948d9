"""``/docs`` (Swagger UI) and ``/redoc`` without internet: their pages name only files the app serves
itself (installed with the ``fastapi-offline`` package), and in a real browser (Debian's chromium,
headless) Swagger UI lists every operation of the document while no request leaves the server."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
from conftest import service_settings
from fastapi.testclient import TestClient
from test_concurrent_retries import LiveServer
from test_web_browser import browser  # noqa: F401 - the module's chromium, reused

from serving.app import create_app

#: what each asset is
ASSET_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


@pytest.fixture
def app(sqlite_url, tmp_path):
    return create_app(service_settings(sqlite_url, tmp_path / "photos"))


def referenced(html: str) -> set[str]:
    """Every URL the page names: src, href and ReDoc's spec-url attributes, and the document's url in
    Swagger UI's script."""
    attributes = re.findall(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']""", html)
    in_script = re.findall(r"""url:\s*['"]([^'"]+)['"]""", html)
    return set(attributes) | set(in_script)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_name_only_files_the_app_serves(app, page) -> None:
    with TestClient(app) as client:
        html = client.get(page)
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        urls = referenced(html.text)
        assert "/openapi.json" in urls and any(u.endswith(".js") for u in urls)
        for url in urls:
            assert urlsplit(urljoin("http://testserver/", url)).netloc == "testserver", url
            answer = client.get(url)
            assert answer.status_code == 200, url
            kind = next((k for suffix, k in ASSET_TYPES.items() if url.endswith(suffix)), "application/json")
            assert kind in answer.headers["content-type"], (url, answer.headers["content-type"])
            assert len(answer.content) > 1000, url


def test_swagger_ui_renders_every_operation_offline(app, browser) -> None:  # noqa: F811
    with LiveServer(app) as base, TestClient(app) as client:
        operations = sum(len(methods) for methods in client.get("/openapi.json").json()["paths"].values())
        page = browser.new_page()
        host = urlsplit(base).netloc
        elsewhere: list[str] = []

        def only_here(route) -> None:  # and nothing reaches the internet, even if the page asks
            if urlsplit(route.request.url).netloc == host:
                route.continue_()
            else:
                elsewhere.append(route.request.url)
                route.abort()

        page.route("**/*", only_here)
        try:
            page.goto(f"{base}/docs")
            page.wait_for_selector(".opblock", timeout=30_000)
            shown = page.locator(".opblock").count()
            submit = page.locator(".opblock-post .opblock-summary-path", has_text="/v1/cases").first
            assert submit.is_visible()
            page.goto(f"{base}/redoc")
            page.wait_for_selector("[data-section-id]", timeout=30_000)
        finally:
            page.close()
    assert shown == operations
    assert elsewhere == []

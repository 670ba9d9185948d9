"""Debian's chromium for the browser tests, driven headless by Playwright with its executable path
(never a browser Playwright downloads). Without chromium or the playwright package a browser test
skips, except under CI (``CI`` set), where it fails: CI must run them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def chromium_path() -> str:
    path = os.environ.get("DERMATRIAGE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "the playwright package is not installed (pip install -e '.[dev]')"
    else:
        missing = None if Path(path).exists() else "chromium is not installed (apt-get install chromium)"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run under CI: {missing}")
        pytest.skip(missing)
    return path


@contextmanager
def launched() -> Iterator[object]:
    """A headless chromium (a Playwright ``Browser``) for the length of the block."""
    path = chromium_path()
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()

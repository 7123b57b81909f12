"""Helpers for the dashboards' browser tests: Debian's Chromium driven by Playwright, the
pages' shared login form, and where screenshots go.

Imported by tests/dashboards/test_*_page.py and tests/server/test_webrtc_browser.py (no
tests of its own).  The server they test is ``custodywatch server`` as a subprocess
(tests/e2e/support.py) or in-process (tests/server/test_api_support.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
# Headless in a container: no sandbox, no GPU, nothing fetched behind the test's back.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def require_chromium() -> None:
    """Skip the test when Debian's chromium is not installed."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")


def artifact(name: str) -> str:
    """The path of a screenshot kept after the run: test-artifacts/``name``."""
    ARTIFACTS.mkdir(exist_ok=True)
    return str(ARTIFACTS / name)


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium through Playwright's sync API, closed afterwards (the test is
    skipped when chromium is not installed)."""
    from playwright.sync_api import sync_playwright

    require_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def collect_errors(page: Any, errors: list[str] | None = None, label: str = "",
                   ) -> list[str]:
    """Append the page's uncaught JavaScript errors (``label: error``) to ``errors`` (a new
    list unless given), as they happen; returns that list for the test to assert empty."""
    errors = [] if errors is None else errors
    prefix = f"{label}: " if label else ""
    page.on("pageerror", lambda err: errors.append(f"{prefix}{err}"))
    return errors


@contextlib.contextmanager
def desk_page() -> Iterator[Any]:
    """A page on a duty-desk screen (1920×1080, zh-CN) in Chromium; the test fails on any
    uncaught JavaScript error it shows."""
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1920, "height": 1080},
                                      locale="zh-CN")
        page = context.new_page()
        errors = collect_errors(page)
        yield page
        assert not errors, f"JavaScript errors on the page: {errors}"


def log_in(page: Any, url: str, user: str, password: str) -> None:
    """Open ``url`` and log in through the login form every page shares
    (dashboards/shared/login.js); returns once the form is gone."""
    from playwright.sync_api import expect

    page.goto(url)
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click(".login-card button[type=submit]")
    expect(page.locator(".login-overlay")).to_have_count(0)

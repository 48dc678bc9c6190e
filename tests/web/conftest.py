"""Fixtures of the browser tests: Debian's chromium, headless, driven by
Playwright with an explicit executable (never a browser download). Opt-in:
a test asks for `page` (and `live_server`)."""

from __future__ import annotations

import importlib.util
import os

import pytest
from django.conf import settings

from tests.conftest import require
from tests.web.browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS


@pytest.fixture(scope="module")
def browser():
    require(os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    require(importlib.util.find_spec("playwright") is not None,
            "the playwright package is missing: pip install -e '.[test]'")
    require((settings.FRONTEND_DIST / "index.html").exists(),
            f"the frontend is not built ({settings.FRONTEND_DIST}): run `make frontend`")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        # Playwright's sync API runs an event loop in this thread, and Django
        # then refuses ORM calls here as "async context". The test's ORM calls
        # are plain synchronous ones between browser steps; the server runs in
        # its own thread.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies) at 1280x720. Dialogs and page
    errors are recorded, and dialogs dismissed, so a test can assert none."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.dialogs, page.errors = [], []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()

"""What the browser tests share besides fixtures (those are in conftest.py)."""

from __future__ import annotations

from django.conf import settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = settings.VAR_DIR / "screenshots"


def sign_in(page, live_server, path: str, username: str) -> None:
    """Open `path` signed out, sign in on the login page, land back on `path`."""
    page.goto(live_server.url + path)
    assert page.url.startswith(live_server.url + "/login/"), page.url
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("pw-" + username)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + path)

"""Headless Chromium (Debian's) for the tests of what a person sees: the ``browser`` fixture
(a pytest plugin, loaded by the root conftest), logging in, and where screenshots go
(``var/test-artifacts/``, git-ignored)."""

import shutil
from pathlib import Path

import pytest
from django.db import connections

from quantsite.accounts.tests.factories import PASSWORD

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture
def browser(monkeypatch):
    if not shutil.which("chromium"):
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's own database calls
    # are still plain synchronous ones (Django's documented switch for this case).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # While Playwright's loop runs, Django keeps this thread's connections apart from the
        # ones it uses without it (asgiref's context-local storage); close them while that
        # context is current, or a later test with a browser gets a connection left from
        # this one, dead if the database cut it meanwhile (the outage drills do).
        connections.close_all()


def log_in(page, site_url: str, username: str) -> None:
    page.goto(f"{site_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site_url}/")

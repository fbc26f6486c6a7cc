"""Headless Chromium (Debian's, never a downloaded one) driven by Playwright's sync API.

The app runs in pytest-django's `live_server` (http://localhost:<port>, so the WebAuthn RP ID
is `localhost`), with SITE_URL pointed at it. A virtual WebAuthn authenticator is added through
the DevTools protocol. Screenshots go to test-artifacts/screenshots/ (gitignored).
"""

import os
import shutil
from pathlib import Path

import pytest

from accounts.two_factor.recovery_codes import generate_recovery_codes

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test body
# and live_server's database setup would otherwise raise SynchronousOnlyOperation.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}
# The password tests.factories.UserFactory gives every user.
FACTORY_PASSWORD = "correct horse battery staple"
WAIT_MS = 15_000  # Every wait is bounded: a stuck ceremony must fail, not hang.


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only when Chromium exists

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


@pytest.fixture
def site(live_server, settings):
    """The live server's URL, with SITE_URL (RP ID and origin) pointing at it."""
    settings.SITE_URL = live_server.url
    return live_server.url


def _new_page(browser, viewport=None):
    context = browser.new_context(viewport=viewport) if viewport else browser.new_context()
    context.set_default_timeout(WAIT_MS)
    return context, context.new_page()


@pytest.fixture
def page(browser, site):
    context, tab = _new_page(browser)
    yield tab
    context.close()


@pytest.fixture
def phone_page(browser, site):
    context, tab = _new_page(browser, viewport=PHONE)
    yield tab
    context.close()


@pytest.fixture
def screenshot():
    """`screenshot(page, name)` saves a full-page PNG under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(tab, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        tab.screenshot(path=str(path), full_page=True)
        return path

    return take


def add_authenticator(tab, **options) -> tuple:
    """Add a virtual CTAP2 authenticator to `tab`; return (cdp session, authenticator id)."""
    cdp = tab.context.new_cdp_session(tab)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    result = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {"options": {"protocol": "ctap2", "automaticPresenceSimulation": True, **options}},
    )
    return cdp, result["authenticatorId"]


def add_security_key(tab) -> tuple:
    return add_authenticator(
        tab,
        transport="usb",
        hasResidentKey=False,
        hasUserVerification=False,
        isUserVerified=True,
    )


def add_platform_passkey(tab) -> tuple:
    return add_authenticator(
        tab,
        transport="internal",
        hasResidentKey=True,
        hasUserVerification=True,
        isUserVerified=True,
    )


def log_in_with_recovery_code(tab, site, user, password: str = FACTORY_PASSWORD) -> None:
    """Log `user` in with their password and a fresh recovery code (their second factor)."""
    codes = generate_recovery_codes(user=user, actor=user, request=None)
    tab.goto(f"{site}/account/login/")
    tab.fill("input[name=username]", user.username)
    tab.fill("input[name=password]", password)
    tab.click("main button[type=submit]")
    tab.wait_for_url(f"{site}/account/login/two-factor/")
    tab.get_by_role("link", name="Use a recovery code").click()
    tab.fill("input[name=code]", codes[0])
    tab.click("main button[type=submit]")
    tab.wait_for_url(lambda url: "/account/login" not in url)

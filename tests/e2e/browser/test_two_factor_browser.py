"""Two-factor authentication in a real browser: TOTP, security keys, passkeys, recovery codes."""

import base64
import re
import time
from pathlib import Path

import pyotp
import pytest
from django.core import mail

from accounts.models import WebAuthnCredential
from accounts.two_factor.recovery_codes import generate_recovery_codes
from index_site.models import OutboxEmail
from tests.accounts.two_factor.conftest import enable_totp
from tests.e2e.browser.conftest import add_platform_passkey, add_security_key
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "plum tractor violin 1987"


def log_in_with_password(page, site, username, password=PASSWORD):
    page.goto(f"{site}/account/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")


def log_out(page):
    page.click("header button:has-text('Log out')")
    page.wait_for_url(re.compile(r".*/$"))


def assert_logged_in_as(page, username):
    assert page.locator("header").get_by_text(f"({username})").is_visible()


def test_register_enable_totp_log_out_and_log_in_with_a_code(page, site, screenshot):
    page.goto(f"{site}/account/register/")
    screenshot(page, "register")
    page.fill("input[name=username]", "totp-user")
    page.fill("input[name=email]", "totp-user@example.com")
    page.fill("input[name=new_password1]", NEW_PASSWORD)
    page.fill("input[name=new_password2]", NEW_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/register/done/?$|.*/register/.*"))
    # Delivered (the outbox keeps no body once sent): read what the mail backend received.
    (email,) = [message for message in mail.outbox if message.to == ["totp-user@example.com"]]
    verify_url = re.search(r"(http://\S+verify-email/\S+)", email.body).group(1)
    page.goto(verify_url)
    page.click("main button[type=submit]")

    # A user without a second factor is sent to set one up.
    log_in_with_password(page, site, "totp-user", NEW_PASSWORD)
    page.wait_for_url(f"{site}/account/two-factor/")
    assert page.get_by_text("Set up a second factor").is_visible()
    screenshot(page, "two-factor-manage-empty")

    page.get_by_role("link", name="Set up an authenticator app").click()
    page.wait_for_url(f"{site}/account/two-factor/totp/")
    qr_loaded = page.evaluate("document.querySelector('img.qr-code').naturalWidth > 0")
    assert qr_loaded
    shown = page.inner_text("[data-testid=totp-secret]").strip()
    groups = shown.split()
    assert len(groups) == 8
    assert all(len(group) == 4 for group in groups)
    secret = "".join(groups)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site)
    page.get_by_role("button", name="Copy key").click()
    page.get_by_role("button", name="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    screenshot(page, "totp-setup")
    totp = pyotp.TOTP(secret)
    step = int(time.time() // 30)
    page.fill("input[name=code]", totp.generate_otp(step))
    page.click("main button[type=submit]")
    page.wait_for_url(f"{site}/account/two-factor/recovery-codes/")
    codes = page.locator("[data-testid=recovery-codes] code").all_inner_texts()
    assert len(codes) == 8
    page.get_by_role("button", name="Copy codes").click()
    page.get_by_role("button", name="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()").splitlines() == codes
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download as .txt").click()
    download = download_info.value
    assert download.suggested_filename == "gatehouse-recovery-codes.txt"
    assert Path(download.path()).read_text().splitlines()[-8:] == codes
    screenshot(page, "recovery-codes")
    page.get_by_role("link", name="I have saved my codes").click()
    page.wait_for_url(f"{site}/account/two-factor/")
    screenshot(page, "two-factor-manage-totp")

    log_out(page)
    log_in_with_password(page, site, "totp-user", NEW_PASSWORD)
    page.wait_for_url(f"{site}/account/login/two-factor/")
    screenshot(page, "login-two-factor-totp")
    # The next step's code: the confirmation consumed this one, and the window allows +1.
    page.fill("input[name=code]", totp.generate_otp(step + 1))
    page.click("form button[type=submit]:has-text('Verify')")
    page.wait_for_load_state()
    assert "/account/login" not in page.url
    assert_logged_in_as(page, "totp-user")


def test_add_a_security_key_and_log_in_with_it(page, site, screenshot):
    user = UserFactory(username="key-user")
    add_security_key(page)
    log_in_with_password(page, site, user.username)
    page.wait_for_url(f"{site}/account/two-factor/")
    page.get_by_role("link", name="Add a security key").click()
    page.wait_for_url(re.compile(r".*/two-factor/webauthn/add/\?kind=security_key$"))
    page.fill("input[name=label]", "Blue YubiKey")
    screenshot(page, "webauthn-add-security-key")
    page.click("main button[type=submit]")
    page.wait_for_url(f"{site}/account/two-factor/recovery-codes/")
    credential = WebAuthnCredential.objects.get(user=user)
    assert credential.label == "Blue YubiKey"
    assert not credential.is_discoverable
    page.get_by_role("link", name="I have saved my codes").click()
    assert page.get_by_text("Blue YubiKey").is_visible()

    log_out(page)
    log_in_with_password(page, site, user.username)
    page.wait_for_url(f"{site}/account/login/two-factor/")
    screenshot(page, "login-two-factor-webauthn")
    page.get_by_role("button", name="Use security key or passkey").click()
    page.wait_for_url(lambda url: "/account/login" not in url)
    assert_logged_in_as(page, "key-user")
    credential.refresh_from_db()
    assert credential.sign_count == 2  # 1 at registration, +1 for this login
    assert credential.last_used_at is not None


def test_a_browser_refusal_on_an_ip_address_is_a_sentence_saying_what_to_do(page, site):
    """On 127.0.0.1 Chromium raises SecurityError ("This is an invalid domain."): the page
    must tell the person to open the site by its host name instead."""
    user = UserFactory(username="ip-user")
    add_security_key(page)
    on_ip = site.replace("localhost", "127.0.0.1")
    log_in_with_password(page, on_ip, user.username)
    page.wait_for_url(f"{on_ip}/account/two-factor/")
    page.get_by_role("link", name="Add a security key").click()
    page.fill("input[name=label]", "Blue YubiKey")
    page.click("main button[type=submit]")
    error = page.locator("[data-webauthn-error]")
    error.wait_for(state="visible")
    assert error.inner_text() == (
        "Your browser refused security keys and passkeys for this address. Open the site by its "
        "host name (for example http://localhost:8000, not an IP address) over HTTPS or on "
        "localhost, then try again."
    )
    assert not WebAuthnCredential.objects.filter(user=user).exists()


def test_add_a_discoverable_passkey_and_log_in_without_a_username(page, site, screenshot):
    user = UserFactory(username="passkey-user")
    cdp, authenticator_id = add_platform_passkey(page)
    log_in_with_password(page, site, user.username)
    page.wait_for_url(f"{site}/account/two-factor/")
    page.get_by_role("link", name="Create a passkey").click()
    page.fill("input[name=label]", "Laptop passkey")
    screenshot(page, "webauthn-add-passkey")
    page.click("main button[type=submit]")
    page.wait_for_url(f"{site}/account/two-factor/recovery-codes/")
    stored = WebAuthnCredential.objects.get(user=user)
    assert stored.is_discoverable
    created = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
    [virtual] = created["credentials"]
    assert virtual["isResidentCredential"]
    assert base64.b64decode(virtual["credentialId"]) == bytes(stored.credential_id)
    assert base64.b64decode(virtual["userHandle"]) == user.webauthn_handle.handle.bytes

    log_out(page)
    page.goto(f"{site}/account/login/")
    page.get_by_role("link", name="Log in with a passkey").click()
    page.wait_for_url(f"{site}/account/login/passkey/")
    screenshot(page, "login-passkey")
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url(lambda url: "/account/login" not in url)
    assert_logged_in_as(page, "passkey-user")


def test_log_in_with_a_recovery_code(page, site, screenshot):
    user = UserFactory(username="lost-phone")
    enable_totp(user)
    codes = generate_recovery_codes(user=user, actor=user, request=None)
    log_in_with_password(page, site, user.username)
    page.wait_for_url(f"{site}/account/login/two-factor/")
    page.get_by_role("link", name="Use a recovery code").click()
    page.wait_for_url(f"{site}/account/login/two-factor/recovery-code/")
    screenshot(page, "login-recovery-code")
    page.fill("input[name=code]", codes[0].upper())
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/account/login" not in url)
    assert_logged_in_as(page, "lost-phone")
    assert page.get_by_text(
        "You logged in with a recovery code. 7 unused codes remain."
    ).is_visible()
    assert OutboxEmail.objects.filter(template="two_factor/recovery_code_used").exists()


def test_user_without_two_factor_is_sent_to_set_it_up(page, site, screenshot):
    user = UserFactory(username="no-2fa")
    log_in_with_password(page, site, user.username)
    page.wait_for_url(f"{site}/account/two-factor/")
    assert page.get_by_text("Your account needs two-factor authentication").is_visible()
    page.goto(f"{site}/manage/projects/")
    page.wait_for_url(f"{site}/account/two-factor/?next=%2Fmanage%2Fprojects%2F")
    assert page.get_by_role("link", name="the page you were opening").is_visible()
    screenshot(page, "policy-redirect")


def fits_the_screen(tab) -> bool:
    return tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_login_two_factor_and_help_pages_fit_a_phone(phone_page, site, screenshot):
    user = UserFactory(username="phone-user")
    enable_totp(user)
    WebAuthnCredential.objects.create(
        user=user, label="A key with a rather long name", credential_id=b"x", public_key=b"y"
    )
    page = phone_page
    for name, path in [("login", "/account/login/"), ("help", "/account/two-factor/help/")]:
        page.goto(site + path)
        screenshot(page, f"phone-{name}")
        assert fits_the_screen(page), name
    log_in_with_password(page, site, user.username)
    page.wait_for_url(f"{site}/account/login/two-factor/")
    screenshot(page, "phone-login-two-factor")
    assert fits_the_screen(page)
    page.get_by_role("link", name="Use a recovery code").click()
    screenshot(page, "phone-login-recovery-code")
    assert fits_the_screen(page)
    page.goto(f"{site}/account/login/passkey/")
    screenshot(page, "phone-login-passkey")
    assert fits_the_screen(page)


def test_two_factor_management_pages_fit_a_phone(phone_page, site, screenshot):
    user = UserFactory(username="phone-manager")
    enable_totp(user)
    WebAuthnCredential.objects.create(
        user=user, label="A key with a rather long name", credential_id=b"x2", public_key=b"y"
    )
    page = phone_page
    log_in_with_password(page, site, user.username)
    page.wait_for_url(f"{site}/account/login/two-factor/")
    codes = generate_recovery_codes(user=user, actor=user, request=None)
    page.get_by_role("link", name="Use a recovery code").click()
    page.fill("input[name=code]", codes[0])
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/account/login" not in url)
    for name, path in [
        ("two-factor", "/account/two-factor/"),
        ("webauthn-add", "/account/two-factor/webauthn/add/?kind=passkey"),
    ]:
        page.goto(site + path)
        screenshot(page, f"phone-{name}")
        assert fits_the_screen(page), name
    other = UserFactory(username="phone-setup")
    page.click("header button:has-text('Log out')")
    log_in_with_password(page, site, other.username)
    page.wait_for_url(f"{site}/account/two-factor/")
    page.goto(f"{site}/account/two-factor/totp/")
    screenshot(page, "phone-totp-setup")
    assert fits_the_screen(page)

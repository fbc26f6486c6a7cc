"""Authenticator apps: setup, the code format, the window, replays (security.md §3 B)."""

import re
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.urls import reverse

from accounts.models import TOTPDevice
from accounts.two_factor.methods import TwoFactorError
from accounts.two_factor.totp import (
    SECRET_BYTES,
    TOTPResult,
    check_totp_code,
    confirm_totp_device,
    normalize_totp_code,
    start_totp_setup,
    totp_provisioning_uri,
    totp_secret_base32,
)
from accounts.two_factor.views import PENDING_TOTP_KEY, PENDING_TOTP_MAX_AGE
from auditlog.events import EventType
from auditlog.models import AuditEvent
from index_site.models import OutboxEmail
from tests.accounts.two_factor.conftest import (
    begin_pending_login,
    code_at,
    current_step,
    enable_security_key,
    enable_totp,
    login_recently,
    pending_secret,
)
from tests.factories import UserFactory

LOGIN_2FA = "accounts:login_two_factor"


def device_of(user) -> TOTPDevice:
    return TOTPDevice.objects.get(user=user)


def failures(user, reason=None):
    events = AuditEvent.objects.filter(user=user, event_type=EventType.ACCOUNT_LOGIN_FAILURE)
    if reason is not None:
        events = events.filter(data__reason=reason)
    return events


# -- The secret ---------------------------------------------------------------------------


def test_secret_is_160_bits_and_encrypted_in_the_session_and_at_rest(client, db, clock):
    from base64 import b32decode  # noqa: PLC0415 - only here

    user = UserFactory()
    login_recently(client, user)
    client.get(reverse("accounts:totp_setup"))
    in_session = client.session[PENDING_TOTP_KEY].encode()
    secret = totp_secret_base32(in_session)
    assert len(secret) == 32  # 20 bytes in base32
    assert SECRET_BYTES == 20
    assert secret.encode() not in in_session
    assert b32decode(secret) not in in_session
    client.post(reverse("accounts:totp_setup"), {"code": code_at(secret, current_step())})
    stored = bytes(device_of(user).encrypted_secret)
    assert secret.encode() not in stored
    assert b32decode(secret) not in stored
    assert PENDING_TOTP_KEY not in client.session


def test_secret_decrypts_with_a_configured_field_key(db, settings):
    from cryptography.fernet import Fernet  # noqa: PLC0415 - only here

    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    pending = start_totp_setup(user=UserFactory())
    secret = totp_secret_base32(pending)
    settings.FIELD_ENCRYPTION_KEY = ""
    from cryptography.fernet import InvalidToken  # noqa: PLC0415 - only here

    with pytest.raises(InvalidToken):
        totp_secret_base32(pending)
    assert len(secret) == 32


def test_provisioning_uri_names_the_site_as_issuer(db, settings):
    settings.SITE_NAME = "Example Index"
    user = UserFactory(username="alice")
    pending = start_totp_setup(user=user)
    uri = totp_provisioning_uri(user=user, encrypted_secret=pending)
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth"
    assert parts.netloc == "totp"
    assert unquote(parts.path) == "/Example Index:alice"
    query = parse_qs(parts.query)
    assert query["issuer"] == ["Example Index"]
    assert query["secret"] == [totp_secret_base32(pending)]


def test_setup_page_shows_secret_in_fours_and_an_uncached_svg_qr_code(client, db, clock):
    user = UserFactory()
    login_recently(client, user)
    page = client.get(reverse("accounts:totp_setup"))
    assert page.status_code == 200
    secret = pending_secret(client)
    html = page.content.decode()
    groups = re.findall(r"<span>([A-Z2-7]{4})</span>", html)
    assert "".join(groups) == secret
    assert len(groups) == 8
    assert f'data-copy-value="{secret}"' in html
    assert 'data-copy-target="totp-secret"' in html
    assert "no-cache" in page["Cache-Control"] or "no-store" in page["Cache-Control"]
    qr = client.get(reverse("accounts:totp_qr"))
    assert qr.status_code == 200
    assert qr["Content-Type"] == "image/svg+xml"
    assert b"<svg" in qr.content
    assert "no-store" in qr["Cache-Control"]


def test_confirming_with_a_valid_code_turns_the_app_on_and_shows_recovery_codes(client, db, clock):
    user = UserFactory()
    login_recently(client, user)
    client.get(reverse("accounts:totp_setup"))
    secret = pending_secret(client)
    response = client.post(
        reverse("accounts:totp_setup"), {"code": code_at(secret, current_step())}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:recovery_codes")
    assert device_of(user).is_confirmed
    event = AuditEvent.objects.get(event_type=EventType.ACCOUNT_TWO_FACTOR_METHOD_ADDED)
    assert event.data == {"method": "totp"}
    assert OutboxEmail.objects.filter(template="two_factor/method_added").count() == 1
    codes_page = client.get(reverse("accounts:recovery_codes"))
    html = codes_page.content.decode()
    codes = re.findall(r"<code>([0-9a-f ]{19})</code>", html)
    assert len(codes) == 8
    assert 'data-copy-target="recovery-codes"' in html
    assert f'data-copy-value="{chr(10).join(codes)}"' in html
    assert 'download="gatehouse-recovery-codes.txt"' in html
    download = re.search(r'href="data:text/plain;charset=utf-8,([^"]+)"', html)
    assert download is not None
    assert unquote(download.group(1)).splitlines()[-8:] == codes
    # Shown once: the next visit has nothing to show.
    assert client.get(reverse("accounts:recovery_codes")).status_code == 302


def test_setup_page_keeps_its_secret_across_visits_and_stores_nothing_until_confirmed(
    client, db, clock
):
    user = UserFactory()
    login_recently(client, user)
    client.get(reverse("accounts:totp_setup"))
    first = pending_secret(client)
    client.get(reverse("accounts:totp_setup"))
    assert pending_secret(client) == first  # a reload does not break the app just scanned
    assert not TOTPDevice.objects.filter(user=user).exists()
    clock.shift(PENDING_TOTP_MAX_AGE + 1)
    login_recently(client, user)  # re-authenticated, so only the secret's age is in question
    late = client.post(reverse("accounts:totp_setup"), {"code": code_at(first, current_step())})
    assert late.status_code == 302
    assert late["Location"] == reverse("accounts:totp_setup")
    assert not TOTPDevice.objects.filter(user=user).exists()
    client.get(reverse("accounts:totp_setup"))
    assert pending_secret(client) != first


def test_confirming_with_a_code_of_another_secret_is_refused(db, clock):
    user = UserFactory()
    pending = start_totp_setup(user=user)
    other = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    result = confirm_totp_device(
        user=user, encrypted_secret=pending, raw_code=code_at(other, current_step()), request=None
    )
    assert result is TOTPResult.INVALID
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not AuditEvent.objects.filter(event_type=EventType.ACCOUNT_TWO_FACTOR_METHOD_ADDED)


def test_a_second_authenticator_app_is_refused(totp_user):
    with pytest.raises(TwoFactorError):
        start_totp_setup(user=totp_user)
    assert TOTPDevice.objects.filter(user=totp_user).count() == 1


def test_secret_and_qr_are_never_shown_again_after_confirmation(client, totp_user):
    login_recently(client, totp_user)
    assert client.get(reverse("accounts:totp_qr")).status_code == 404
    page = client.get(reverse("accounts:totp_setup"))
    assert page.status_code == 302
    assert totp_user.totp_secret not in client.get(reverse("accounts:two_factor")).content.decode()


def test_setup_needs_recent_authentication(client, db):
    user = UserFactory()
    client.force_login(user)  # no authentication time recorded: too long ago
    response = client.get(reverse("accounts:totp_setup"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:reauth"))
    assert not TOTPDevice.objects.filter(user=user).exists()


# -- Code format (B25) --------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "12345",
        "1234567",
        "12345678",
        "",
        "12345a",
        "+12345",
        "-12345",
        "\uff11\uff12\uff13\uff14\uff15\uff16",  # fullwidth digits
        "1" * 1_000_000,
    ],
)
def test_malformed_codes_are_refused_before_verification(raw):
    assert normalize_totp_code(raw) is None


@pytest.mark.parametrize("raw", ["123456", "123 456", " 123456 ", "12 34 56"])
def test_spaces_are_removed(raw):
    assert normalize_totp_code(raw) == "123456"


@pytest.mark.parametrize(
    "raw", ["12345", "1234567", "12345678", "", "12345a", "+12345", "-12345", "1" * 1_000_000]
)
def test_malformed_login_code_is_a_form_error_and_a_counted_failure(client, totp_user, raw):
    begin_pending_login(client, totp_user)
    response = client.post(reverse(LOGIN_2FA), {"code": raw})
    assert response.status_code == 200
    assert "Enter the six-digit code" in response.content.decode()
    assert failures(totp_user, "malformed_totp").count() == 1
    assert device_of(totp_user).last_used_step == current_step() - 1


def test_null_byte_in_code_is_a_bad_request(client, totp_user):
    begin_pending_login(client, totp_user)
    response = client.post(reverse(LOGIN_2FA), {"code": "12345\x00"})
    assert response.status_code == 400
    assert failures(totp_user, "malformed_totp").count() == 1


# -- Window and replay (B20, B21, B23, B24) ------------------------------------------------


def test_valid_code_logs_in(client, totp_user):
    begin_pending_login(client, totp_user)
    response = client.post(
        reverse(LOGIN_2FA), {"code": code_at(totp_user.totp_secret, current_step())}
    )
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == totp_user.pk
    success = AuditEvent.objects.get(event_type=EventType.ACCOUNT_LOGIN_SUCCESS)
    assert success.data == {"method": "totp"}


def test_same_code_is_refused_on_a_second_login(client, totp_user):
    code = code_at(totp_user.totp_secret, current_step())
    begin_pending_login(client, totp_user)
    assert client.post(reverse(LOGIN_2FA), {"code": code}).status_code == 302
    client.logout()
    begin_pending_login(client, totp_user)
    response = client.post(reverse(LOGIN_2FA), {"code": code})
    assert response.status_code == 200
    assert response.context["form"].errors["code"] == [
        "That code was already used. Wait for the next one."
    ]
    assert "_auth_user_id" not in client.session
    assert failures(totp_user, "totp_replay").count() == 1
    assert device_of(totp_user).last_used_step == current_step()


@pytest.mark.parametrize("respaced", ["{a} {b}", " {a}{b} ", "{a0} {a1} {b0} {b1}"])
def test_respaced_code_is_still_a_replay(totp_user, respaced):
    code = code_at(totp_user.totp_secret, current_step())
    device = device_of(totp_user)
    assert check_totp_code(device=device, raw_code=code) is TOTPResult.ACCEPTED
    variant = respaced.format(
        a=code[:3], b=code[3:], a0=code[:2], a1=code[2:4], b0=code[4], b1=code[5]
    )
    assert check_totp_code(device=device_of(totp_user), raw_code=variant) is TOTPResult.REPLAY


def test_accepted_step_must_strictly_increase(totp_user, clock):
    secret = totp_user.totp_secret
    now = current_step()
    assert check_totp_code(device=device_of(totp_user), raw_code=code_at(secret, now + 1)) == (
        TOTPResult.ACCEPTED
    )
    # The current step's code is inside the window but older than the one accepted.
    assert check_totp_code(device=device_of(totp_user), raw_code=code_at(secret, now)) == (
        TOTPResult.REPLAY
    )


def test_code_from_one_step_back_accepted_then_same_and_older_steps_refused(db, clock):
    user = UserFactory()
    pending = start_totp_setup(user=user)
    secret = totp_secret_base32(pending)
    # Confirm with the current step's code... then log in a little later with t-1 codes.
    clock.shift(60)
    now = current_step()
    # Confirmation in this test uses t-1 (accepted), so t-1 and t-2 must then be refused.
    assert confirm_totp_device(
        user=user, encrypted_secret=pending, raw_code=code_at(secret, now - 1), request=None
    ) == (TOTPResult.ACCEPTED)
    device = device_of(user)
    assert check_totp_code(device=device, raw_code=code_at(secret, now - 1)) is TOTPResult.REPLAY
    assert check_totp_code(device=device, raw_code=code_at(secret, now - 2)) is not (
        TOTPResult.ACCEPTED
    )
    assert device_of(user).last_used_step == now - 1


@pytest.mark.parametrize("offset", [2, -2, 10, -10])
def test_out_of_sync_code_is_refused_and_recorded_as_such(client, totp_user, offset):
    begin_pending_login(client, totp_user)
    code = code_at(totp_user.totp_secret, current_step() + offset)
    response = client.post(reverse(LOGIN_2FA), {"code": code})
    assert response.status_code == 200
    assert "That code is not valid" in response.content.decode()
    assert failures(totp_user, "totp_out_of_sync").count() == 1


@pytest.mark.parametrize("offset", [11, -11])
def test_code_far_out_of_window_is_invalid(client, totp_user, offset):
    begin_pending_login(client, totp_user)
    code = code_at(totp_user.totp_secret, current_step() + offset)
    client.post(reverse(LOGIN_2FA), {"code": code})
    assert failures(totp_user, "invalid_totp").count() == 1


# -- Pending login (B27, B28) -------------------------------------------------------------


def test_code_without_a_password_step_goes_back_to_login(client, totp_user):
    response = client.post(
        reverse(LOGIN_2FA), {"code": code_at(totp_user.totp_secret, current_step())}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login")
    assert "_auth_user_id" not in client.session
    assert device_of(totp_user).last_used_step == current_step() - 1


def test_expired_pending_login_goes_back_to_login(client, totp_user, clock):
    begin_pending_login(client, totp_user)
    clock.shift(5 * 60 + 1)
    response = client.post(
        reverse(LOGIN_2FA), {"code": code_at(totp_user.totp_secret, current_step())}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login")
    assert "_auth_user_id" not in client.session


def test_tampered_pending_login_goes_back_to_login(client, totp_user):
    begin_pending_login(client, totp_user)
    session = client.session
    session["pending_login"] = session["pending_login"][:-2] + "xx"
    session.save()
    response = client.post(
        reverse(LOGIN_2FA), {"code": code_at(totp_user.totp_secret, current_step())}
    )
    assert response["Location"] == reverse("accounts:login")


def test_pending_login_of_one_user_refuses_the_code_of_another(client, totp_user, clock):
    other = UserFactory()
    from tests.accounts.two_factor.conftest import enable_totp  # noqa: PLC0415 - only here

    other_secret = enable_totp(other)
    begin_pending_login(client, totp_user)
    response = client.post(reverse(LOGIN_2FA), {"code": code_at(other_secret, current_step())})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert failures(totp_user).count() == 1


# -- Rate limits (B26) --------------------------------------------------------------------


def test_sixth_wrong_code_within_five_minutes_is_limited(client, totp_user):
    begin_pending_login(client, totp_user)
    for _ in range(5):
        assert client.post(reverse(LOGIN_2FA), {"code": "000000"}).status_code == 200
    good = code_at(totp_user.totp_secret, current_step())
    response = client.post(reverse(LOGIN_2FA), {"code": good})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session
    assert failures(totp_user).count() == 5


def test_user_limit_holds_when_the_ip_changes(client, totp_user):
    begin_pending_login(client, totp_user)
    for number in range(5):
        client.post(reverse(LOGIN_2FA), {"code": "000000"}, REMOTE_ADDR=f"198.51.100.{number}")
    response = client.post(reverse(LOGIN_2FA), {"code": "000000"}, REMOTE_ADDR="198.51.100.99")
    assert response.status_code == 429


def test_hourly_limit_applies_after_the_short_window(client, totp_user, clock):
    # The limiter's windows are fixed, with a per-key offset: start right after this user's
    # hourly window opens, so the 21 attempts (20 minutes apart at most) share one window.
    from django_ratelimit.core import _get_window  # noqa: PLC0415 - only here

    clock.move_to(_get_window(f"user-id:{totp_user.pk}", 3600) + 1)
    begin_pending_login(client, totp_user)
    for _ in range(4):
        for _ in range(5):
            client.post(reverse(LOGIN_2FA), {"code": "000000"})
        clock.shift(5 * 60 + 1)
        begin_pending_login(client, totp_user)
    response = client.post(reverse(LOGIN_2FA), {"code": "000000"})
    assert response.status_code == 429
    assert failures(totp_user).count() == 20


def test_daily_limit_applies_after_the_hourly_windows(client, totp_user, clock):
    from django_ratelimit.core import _get_window  # noqa: PLC0415 - only here

    clock.move_to(_get_window(f"user-id:{totp_user.pk}", 24 * 3600) + 1)

    def fail_in_batches(batches: int) -> None:
        for _ in range(batches):
            begin_pending_login(client, totp_user)
            for _ in range(5):
                assert client.post(reverse(LOGIN_2FA), {"code": "000000"}).status_code == 200
            clock.shift(5 * 60 + 1)  # a new short window (and a fresh pending login)

    for _ in range(2):
        fail_in_batches(4)  # 20: the hourly maximum
        clock.shift(3600 + 1)  # a new hourly window
    fail_in_batches(2)
    begin_pending_login(client, totp_user)
    response = client.post(reverse(LOGIN_2FA), {"code": "000000"})
    assert response.status_code == 429
    assert failures(totp_user).count() == 50


# -- Removal (B30) ------------------------------------------------------------------------


def test_last_method_cannot_be_removed(client, totp_user):
    login_recently(client, totp_user)
    response = client.post(reverse("accounts:totp_remove"), follow=True)
    assert "last two-factor method" in response.content.decode()
    assert device_of(totp_user).is_confirmed
    assert not AuditEvent.objects.filter(event_type=EventType.ACCOUNT_TWO_FACTOR_METHOD_REMOVED)


def test_app_can_be_removed_when_a_key_remains(client, totp_user):
    enable_security_key(totp_user)
    login_recently(client, totp_user)
    response = client.post(reverse("accounts:totp_remove"))
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=totp_user).exists()
    event = AuditEvent.objects.get(event_type=EventType.ACCOUNT_TWO_FACTOR_METHOD_REMOVED)
    assert event.data == {"method": "totp"}
    assert OutboxEmail.objects.filter(template="two_factor/method_removed").count() == 1


def test_removing_the_app_needs_recent_authentication(client, totp_user):
    enable_security_key(totp_user)
    client.force_login(totp_user)
    response = client.post(reverse("accounts:totp_remove"))
    assert response["Location"].startswith(reverse("accounts:reauth"))
    assert device_of(totp_user).is_confirmed


def test_last_method_can_be_removed_when_the_policy_does_not_require_it(
    client, totp_user, settings
):
    settings.TWO_FACTOR_POLICY = "critical"
    login_recently(client, totp_user)
    client.post(reverse("accounts:totp_remove"))
    assert not TOTPDevice.objects.filter(user=totp_user).exists()


def test_rotated_field_key_still_reads_secrets_written_with_the_old_one(db, settings):
    from cryptography.fernet import Fernet  # noqa: PLC0415 - only here

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = old
    user = UserFactory()
    secret = enable_totp(user)
    settings.FIELD_ENCRYPTION_KEY = f"{new},{old}"
    assert totp_secret_base32(device_of(user).encrypted_secret) == secret

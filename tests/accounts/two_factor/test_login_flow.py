"""The two-step login, the 2FA policy redirect, re-authentication and the pages around them."""

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from django.urls import reverse

from accounts.models import TOTPDevice
from auditlog.events import EventType
from auditlog.models import AuditEvent
from tests.accounts.two_factor.conftest import (
    begin_pending_login,
    code_at,
    current_step,
    login_recently,
    pending_secret,
)
from tests.factories import UserFactory

PASSWORD = "correct horse battery staple"


def password_step(client, user, **extra):
    return client.post(
        reverse("accounts:login"), {"username": user.username, "password": PASSWORD}, **extra
    )


def test_password_step_of_a_two_factor_user_asks_for_the_second_factor(client, totp_user):
    response = password_step(client, totp_user)
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login_two_factor")
    assert "_auth_user_id" not in client.session
    page = client.get(reverse("accounts:login_two_factor"))
    assert page.status_code == 200
    assert "Six-digit code" in page.content.decode()


def test_session_key_changes_after_each_step_and_a_planted_id_stays_anonymous(client, totp_user):
    planted = SessionStore()
    planted["planted"] = True
    planted.save()
    planted_key = planted.session_key
    client.cookies[settings.SESSION_COOKIE_NAME] = planted_key
    password_step(client, totp_user)
    after_password = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after_password != planted_key
    response = client.post(
        reverse("accounts:login_two_factor"),
        {"code": code_at(totp_user.totp_secret, current_step())},
    )
    assert response.status_code == 302
    after_second = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after_second not in (planted_key, after_password)
    assert int(client.session["_auth_user_id"]) == totp_user.pk
    attacker = Client()
    attacker.cookies[settings.SESSION_COOKIE_NAME] = planted_key
    assert attacker.get(reverse("accounts:two_factor")).status_code == 302  # to login
    attacker.cookies[settings.SESSION_COOKIE_NAME] = after_password
    assert attacker.get(reverse("accounts:two_factor")).status_code == 302


def test_a_later_login_kills_the_pending_login(client, totp_user):
    begin_pending_login(client, totp_user)
    other_browser = Client()
    begin_pending_login(other_browser, totp_user)
    other_browser.post(
        reverse("accounts:login_two_factor"),
        {"code": code_at(totp_user.totp_secret, current_step())},
    )
    response = client.post(
        reverse("accounts:login_two_factor"),
        {"code": code_at(totp_user.totp_secret, current_step() + 1)},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login")
    assert "_auth_user_id" not in client.session


def test_wrong_second_factor_is_recorded_as_a_login_failure(client, totp_user):
    password_step(client, totp_user)
    client.post(reverse("accounts:login_two_factor"), {"code": "000000"})
    failure = AuditEvent.objects.get(event_type=EventType.ACCOUNT_LOGIN_FAILURE)
    assert failure.user_id == totp_user.pk
    assert failure.data == {"reason": "invalid_totp"}


def test_user_without_two_factor_is_sent_to_set_it_up(client, db):
    user = UserFactory()
    response = password_step(client, user)
    assert response["Location"] == reverse("accounts:two_factor")
    page = client.get(reverse("accounts:two_factor"))
    assert page.status_code == 200
    assert "Set up a second factor" in page.content.decode()


def test_setup_pages_stay_reachable_without_two_factor(client, db):
    user = UserFactory()
    login_recently(client, user)
    for name in ("accounts:two_factor", "accounts:totp_setup", "accounts:two_factor_help"):
        assert client.get(reverse(name)).status_code == 200, name
    response = client.get(reverse("accounts:webauthn_add") + "?kind=passkey")
    assert response.status_code == 200
    assert (
        client.post(reverse("accounts:webauthn_register_options"), {"kind": "passkey"}).status_code
        == 200
    )


def test_stale_session_is_asked_to_reauthenticate_then_proceeds(client, db, clock):
    user = UserFactory()
    login_recently(client, user)
    clock.shift(31 * 60)
    setup = reverse("accounts:totp_setup")
    response = client.get(setup)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:reauth"))
    assert not TOTPDevice.objects.filter(user=user).exists()
    back = client.post(response["Location"], {"password": PASSWORD})
    assert back["Location"] == setup
    assert client.get(setup).status_code == 200
    assert "totp-secret" in client.get(setup).content.decode()
    assert not TOTPDevice.objects.filter(user=user).exists()


def test_login_page_offers_passkey_login(client, db):
    page = client.get(reverse("accounts:login")).content.decode()
    assert reverse("accounts:login_passkey") in page
    passkey_page = client.get(reverse("accounts:login_passkey"))
    assert passkey_page.status_code == 200
    assert "/static/js/webauthn.js" in passkey_page.content.decode()


def test_second_step_offers_every_method_the_user_has(client, totp_user):
    from tests.accounts.two_factor.conftest import enable_security_key  # noqa: PLC0415

    enable_security_key(totp_user)
    begin_pending_login(client, totp_user)
    page = client.get(reverse("accounts:login_two_factor")).content.decode()
    assert "Use security key or passkey" in page
    assert "Six-digit code" in page
    assert reverse("accounts:login_recovery_code") in page


def test_management_page_lists_methods_without_secrets_in_fixed_queries(
    client, totp_user, django_assert_max_num_queries
):
    from tests.accounts.two_factor.conftest import enable_security_key  # noqa: PLC0415

    for number in range(5):
        enable_security_key(totp_user, label=f"Key {number}")
    login_recently(client, totp_user)
    with django_assert_max_num_queries(14):
        page = client.get(reverse("accounts:two_factor"))
    content = page.content.decode()
    assert all(f"Key {number}" in content for number in range(5))
    assert totp_user.totp_secret not in content
    assert "Remove the authenticator app" in content


def test_management_page_explains_webauthn_and_phishing(client, db):
    login_recently(client, UserFactory())
    content = client.get(reverse("accounts:two_factor")).content.decode()
    for words in ("Touch ID", "Windows Hello", "Android", "passkeys", "phishing"):
        assert words in content


def test_help_page_covers_choosing_lost_devices_and_ci(client, db):
    content = client.get(reverse("accounts:two_factor_help")).content.decode()
    assert "Which method should I choose?" in content
    assert "I lost my device" in content
    assert "trusted publishing" in content
    assert "API token" in content


def test_totp_secret_only_in_setup_page_never_in_events(client, db, clock):
    user = UserFactory()
    login_recently(client, user)
    client.get(reverse("accounts:totp_setup"))
    secret = pending_secret(client)
    client.post(reverse("accounts:totp_setup"), {"code": code_at(secret, current_step())})
    assert TOTPDevice.objects.get(user=user).is_confirmed
    for event in AuditEvent.objects.all():
        assert secret not in str(event.data)


def test_no_code_reaches_the_logs_or_the_audit_log(client, totp_user, caplog):
    from accounts.two_factor.recovery_codes import generate_recovery_codes  # noqa: PLC0415

    codes = generate_recovery_codes(user=totp_user, actor=totp_user, request=None)
    caplog.set_level("DEBUG")
    begin_pending_login(client, totp_user)
    wrong_code = "314159"
    client.post(reverse("accounts:login_two_factor"), {"code": wrong_code})
    client.post(reverse("accounts:login_recovery_code"), {"code": "f" * 16})
    good = code_at(totp_user.totp_secret, current_step())
    client.post(reverse("accounts:login_two_factor"), {"code": good})
    everything = caplog.text + " ".join(str(e.data) for e in AuditEvent.objects.all())
    for secret in (wrong_code, "f" * 16, good, totp_user.totp_secret, *codes):
        assert secret not in everything

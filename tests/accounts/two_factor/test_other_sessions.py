"""A second-factor change ends the user's other sessions and keeps the one that made it
(security.md §3 E row 53)."""

import json

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client
from django.urls import reverse

from accounts.models import TOTPDevice, User, WebAuthnCredential
from accounts.services import set_user_active
from tests.accounts.two_factor.conftest import (
    code_at,
    current_step,
    enable_security_key,
    enable_totp,
    login_recently,
    pending_secret,
)
from tests.accounts.two_factor.soft_authenticator import SoftAuthenticator
from tests.admin_login import log_in_for_admin
from tests.factories import TwoFactorUserFactory, UserFactory

pytestmark = pytest.mark.django_db

PROBE = "accounts:two_factor"  # Any page that needs a logged-in user.


def is_logged_in(client: Client) -> bool:
    return client.get(reverse(PROBE)).status_code == 200


@pytest.fixture
def sessions(clock):
    """A user with an app and a key, logged in twice: `this` (recently) and `other`."""
    user = UserFactory()
    enable_totp(user)
    enable_security_key(user, label="Office key")
    this, other = Client(), Client()
    login_recently(this, user)
    other.force_login(user)
    assert is_logged_in(this)
    assert is_logged_in(other)
    return user, this, other


def test_removing_the_app_ends_other_sessions_and_keeps_this_one(sessions):
    user, this, other = sessions
    response = this.post(reverse("accounts:totp_remove"))
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert is_logged_in(this)
    assert not is_logged_in(other)


def test_removing_a_security_key_ends_other_sessions_and_keeps_this_one(sessions):
    user, this, other = sessions
    credential = WebAuthnCredential.objects.get(user=user)
    response = this.post(reverse("accounts:webauthn_remove", args=[credential.pk]))
    assert response.status_code == 302
    assert not WebAuthnCredential.objects.filter(user=user).exists()
    assert is_logged_in(this)
    assert not is_logged_in(other)


def test_adding_an_app_ends_other_sessions_and_keeps_this_one(clock):
    user = UserFactory()
    enable_security_key(user)
    this, other = Client(), Client()
    login_recently(this, user)
    other.force_login(user)
    this.get(reverse("accounts:totp_setup"))
    secret = pending_secret(this)
    response = this.post(reverse("accounts:totp_setup"), {"code": code_at(secret, current_step())})
    assert response.status_code == 302
    assert TOTPDevice.objects.get(user=user).is_confirmed
    assert is_logged_in(this)
    assert not is_logged_in(other)


def test_adding_a_security_key_ends_other_sessions_and_keeps_this_one(db):
    user = UserFactory()
    this, other = Client(), Client()
    login_recently(this, user)
    other.force_login(user)
    options = this.post(reverse("accounts:webauthn_register_options"), {"kind": "security_key"})
    response = this.post(
        reverse("accounts:webauthn_register"),
        data=json.dumps(
            {"label": "Blue key", "credential": SoftAuthenticator().register(options.json())}
        ),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert WebAuthnCredential.objects.filter(user=user).exists()
    assert is_logged_in(this)
    assert not is_logged_in(other)


def test_regenerating_recovery_codes_ends_other_sessions_and_keeps_this_one(sessions):
    user, this, other = sessions
    response = this.post(reverse("accounts:recovery_codes"))
    assert response.status_code == 302
    assert response.url == reverse("accounts:recovery_codes")
    assert user.recovery_codes.count() == 8
    assert is_logged_in(this)
    assert not is_logged_in(other)


def test_a_refused_removal_leaves_other_sessions_alone(clock):
    user = UserFactory()
    enable_totp(user)  # The only method, and the default policy requires one.
    this, other = Client(), Client()
    login_recently(this, user)
    other.force_login(user)
    this.post(reverse("accounts:totp_remove"))
    assert TOTPDevice.objects.filter(user=user).exists()
    assert is_logged_in(other)


def test_admin_two_factor_reset_ends_every_session_of_the_user(sessions):
    user, this, other = sessions
    admin = Client()
    log_in_for_admin(admin, TwoFactorUserFactory(is_staff=True, is_superuser=True))
    url = reverse("admin:accounts_user_reset_two_factor", args=[user.pk])
    response = admin.post(url, {"reason": "Lost phone; identity checked by call"})
    assert response.status_code == 302
    assert not is_logged_in(this)
    assert not is_logged_in(other)
    assert is_logged_in(admin)


def test_disabled_account_sessions_stay_ended_when_it_is_enabled_again(sessions):
    user, this, other = sessions
    admin = TwoFactorUserFactory(is_staff=True)
    set_user_active(user=user, is_active=False, actor=admin)
    assert not is_logged_in(other)
    set_user_active(user=user, is_active=True, actor=admin)
    assert not is_logged_in(this)
    assert not is_logged_in(other)


def test_epoch_zero_keeps_djangos_session_hash(db):
    """Sessions made before the epoch existed survive the upgrade; a raised epoch does not."""
    user = UserFactory()
    assert user.get_session_auth_hash() == AbstractBaseUser._get_session_auth_hash(user)
    User.objects.filter(pk=user.pk).update(session_epoch=1)
    user.refresh_from_db()
    assert user.get_session_auth_hash() != AbstractBaseUser._get_session_auth_hash(user)

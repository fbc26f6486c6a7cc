"""Helpers for two-factor tests: methods enrolled through the real services, login states."""

import json
import time

import pyotp
import pytest
import time_machine
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from accounts.login import start_pending_login
from accounts.reauth import AUTHENTICATED_AT_KEY
from accounts.two_factor.security_keys import (
    KIND_PASSKEY,
    KIND_SECURITY_KEY,
    register_credential,
    registration_options,
)
from accounts.two_factor.totp import confirm_totp_device, start_totp_setup, totp_secret_base32
from accounts.two_factor.views import PENDING_TOTP_KEY
from tests.accounts.two_factor.soft_authenticator import SoftAuthenticator
from tests.factories import UserFactory


def code_at(secret: str, step: int) -> str:
    """The code of time step `step` for the base32 `secret`."""
    return pyotp.TOTP(secret).generate_otp(step)


def current_step() -> int:
    return int(time.time() // 30)


def session_request():
    request = RequestFactory().post("/", REMOTE_ADDR="203.0.113.9")
    request.session = SessionStore()
    return request


def pending_secret(client) -> str:
    """The base32 secret of the authenticator app being set up in `client`'s session."""
    return totp_secret_base32(client.session[PENDING_TOTP_KEY].encode())


def enable_totp(user) -> str:
    """Turn on an authenticator app for `user` through the services; return its secret."""
    pending = start_totp_setup(user=user)
    secret = totp_secret_base32(pending)
    # The step before now, so the test's own "current" code is still unused.
    confirm_totp_device(
        user=user,
        encrypted_secret=pending,
        raw_code=code_at(secret, current_step() - 1),
        request=None,
    )
    return secret


def enable_security_key(user, *, label: str = "Keyring key", passkey: bool = False):
    """Register a software authenticator for `user`; return it (it can sign later logins)."""
    authenticator = SoftAuthenticator()
    request = session_request()
    kind = KIND_PASSKEY if passkey else KIND_SECURITY_KEY
    options = json.loads(registration_options(request=request, user=user, kind=kind))
    register_credential(
        request=request,
        user=user,
        label=label,
        credential_json=json.dumps(authenticator.register(options)),
    )
    return authenticator


def begin_pending_login(client, user) -> None:
    """Put `client` in the state after a correct password: a pending login for `user`."""
    user.refresh_from_db()  # The token binds the current last_login.
    session = client.session
    request = RequestFactory().get("/")
    request.session = session
    start_pending_login(request, user)
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key


def login_recently(client, user) -> None:
    """Log `client` in as `user`, authenticated just now (re-authentication satisfied)."""
    client.force_login(user)
    session = client.session
    session[AUTHENTICATED_AT_KEY] = int(time.time())
    session.save()


# A moment 5 s into a 30 s time step, far from any real "now".
FROZEN_AT = 1_900_000_005


@pytest.fixture
def clock():
    """Time stands still at FROZEN_AT until the test moves it (`clock.shift(seconds)`)."""
    with time_machine.travel(FROZEN_AT, tick=False) as traveller:
        yield traveller


@pytest.fixture
def totp_user(db, clock):
    user = UserFactory()
    user.totp_secret = enable_totp(user)
    return user


@pytest.fixture
def key_user(db):
    user = UserFactory()
    user.authenticator = enable_security_key(user)
    return user

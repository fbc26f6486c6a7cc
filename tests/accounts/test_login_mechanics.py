"""The pending login between the password step and the second factor, and login completion."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import transaction
from django.test import RequestFactory
from django.utils import timezone

from accounts.login import (
    PENDING_LOGIN_KEY,
    complete_login,
    get_pending_login_user,
    record_login_failure,
    start_pending_login,
)
from accounts.reauth import AUTHENTICATED_AT_KEY
from auditlog.models import AuditEvent
from tests.factories import TwoFactorUserFactory


@pytest.fixture
def make_request():
    def _make(session=None):
        request = RequestFactory().post("/account/login/", REMOTE_ADDR="203.0.113.7")
        request.session = session if session is not None else SessionStore()
        request.session.save()
        request.user = None
        return request

    return _make


@pytest.fixture
def two_factor_user(db):
    return TwoFactorUserFactory()


def test_pending_login_returns_its_user(make_request, two_factor_user):
    request = make_request()
    start_pending_login(request, two_factor_user)
    assert get_pending_login_user(request) == two_factor_user


def test_pending_login_cycles_the_session_key(make_request, two_factor_user):
    request = make_request()
    planted_key = request.session.session_key
    start_pending_login(request, two_factor_user)
    assert request.session.session_key != planted_key


def test_no_pending_login_means_no_user(make_request, db):
    assert get_pending_login_user(make_request()) is None


def test_pending_login_expires_after_five_minutes(make_request, two_factor_user):
    request = make_request()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        start_pending_login(request, two_factor_user)
        clock.shift(timedelta(minutes=4, seconds=59))
        assert get_pending_login_user(request) == two_factor_user
        clock.shift(timedelta(seconds=2))
        assert get_pending_login_user(request) is None


def test_pending_login_dies_with_a_later_login(make_request, two_factor_user):
    request = make_request()
    start_pending_login(request, two_factor_user)
    # The same account logs in elsewhere (for example the legitimate owner).
    complete_login(make_request(), two_factor_user, method="webauthn")
    assert get_pending_login_user(request) is None


def test_pending_login_dies_with_a_password_change(make_request, two_factor_user):
    request = make_request()
    start_pending_login(request, two_factor_user)
    two_factor_user.set_password("an entirely new passphrase")
    two_factor_user.save()
    assert get_pending_login_user(request) is None


def test_pending_login_is_bound_to_its_user(make_request, two_factor_user):
    other = TwoFactorUserFactory()
    request = make_request()
    start_pending_login(request, two_factor_user)
    token = request.session[PENDING_LOGIN_KEY]
    # A token whose payload is edited to name another user fails its signature.
    tampered = token.replace(token.split(":")[0], token.split(":")[0][:-1] + "A")
    request.session[PENDING_LOGIN_KEY] = tampered
    assert get_pending_login_user(request) is None
    # And another user's session holding this token does not get `other` either.
    other_request = make_request()
    start_pending_login(other_request, other)
    other_request.session[PENDING_LOGIN_KEY] = token
    assert get_pending_login_user(other_request) == two_factor_user


def test_pending_login_of_a_disabled_user_is_void(make_request, two_factor_user):
    request = make_request()
    start_pending_login(request, two_factor_user)
    two_factor_user.is_active = False
    two_factor_user.save()
    assert get_pending_login_user(request) is None


def test_complete_login_rotates_the_session_and_clears_the_pending_login(
    make_request, two_factor_user
):
    request = make_request()
    start_pending_login(request, two_factor_user)
    key_after_password = request.session.session_key
    complete_login(request, two_factor_user, method="totp")
    assert request.session.session_key != key_after_password
    assert request.session[SESSION_KEY] == str(two_factor_user.pk)
    assert PENDING_LOGIN_KEY not in request.session
    assert isinstance(request.session[AUTHENTICATED_AT_KEY], int)
    event = AuditEvent.objects.get(event_type="account:login:success")
    assert event.user == two_factor_user
    assert event.data == {"method": "totp"}
    assert event.ip_address == "203.0.113.7"


def test_login_success_event_rolls_back_with_the_login(make_request, two_factor_user):
    def log_in_then_fail():
        with transaction.atomic():
            complete_login(make_request(), two_factor_user, method="password")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        log_in_then_fail()
    two_factor_user.refresh_from_db()
    assert two_factor_user.last_login is None
    assert not AuditEvent.objects.filter(event_type="account:login:success").exists()


def test_login_failure_of_a_known_user_is_recorded_with_its_reason(make_request, two_factor_user):
    record_login_failure(make_request(), user=two_factor_user, reason="two_factor")
    event = AuditEvent.objects.get(event_type="account:login:failure")
    assert event.user == two_factor_user
    assert event.data == {"reason": "two_factor"}


def test_login_failure_of_an_unknown_user_is_only_logged(make_request, db, caplog):
    record_login_failure(make_request(), user=None, reason="bad_password")
    assert not AuditEvent.objects.exists()
    assert "reason=bad_password" in caplog.text


def test_pending_login_ends_a_login_already_in_the_session(make_request, two_factor_user):
    other = TwoFactorUserFactory()
    request = make_request()
    complete_login(request, other, method="password")
    start_pending_login(request, two_factor_user)
    assert SESSION_KEY not in request.session
    assert not request.user.is_authenticated
    assert get_pending_login_user(request) == two_factor_user

"""Logout, re-authentication and password change: what happens to sessions."""

import time

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from accounts.reauth import AUTHENTICATED_AT_KEY
from auditlog.models import AuditEvent
from tests.accounts.conftest import emails

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new long passphrase 7"


@pytest.fixture(autouse=True)
def _policy_for_critical_projects_only(settings):
    settings.TWO_FACTOR_POLICY = "critical"


def _log_in(user, password) -> Client:
    client = Client()
    response = client.post("/account/login/", {"username": user.username, "password": password})
    assert response.status_code == 302
    return client


def test_logout_deletes_the_server_side_session(user, password):
    client = _log_in(user, password)
    old_cookie = client.cookies["sessionid"].value
    response = client.post("/account/logout/")
    assert response.status_code == 302
    assert not Session.objects.filter(session_key=old_cookie).exists()
    replay = Client()
    replay.cookies["sessionid"] = old_cookie
    assert replay.get("/account/settings/").status_code == 302
    (event,) = AuditEvent.objects.filter(event_type="account:logout")
    assert event.user == user


def test_logout_by_get_is_refused(user, password):
    client = _log_in(user, password)
    assert client.get("/account/logout/").status_code == 405
    assert client.get("/account/settings/").status_code == 200


def test_logout_without_csrf_token_is_refused(user, password):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post("/account/logout/").status_code == 403
    assert client.get("/account/settings/").status_code == 200


def test_password_change_ends_other_sessions_and_keeps_this_one(user, password):
    this, other = _log_in(user, password), _log_in(user, password)
    response = this.post(
        "/account/settings/password/",
        {
            "current_password": password,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert this.get("/account/settings/").status_code == 200
    assert other.get("/account/settings/").status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert user.password_changed_at is not None
    assert AuditEvent.objects.filter(event_type="account:password:change", user=user).exists()
    (email,) = emails("accounts/password_changed", user.email)
    assert "was just changed" in email.body_text


def test_password_change_needs_the_current_password(user, password):
    client = _log_in(user, password)
    response = client.post(
        "/account/settings/password/",
        {
            "current_password": "not my password",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 200
    assert b"Your current password is incorrect" in response.content
    user.refresh_from_db()
    assert user.check_password(password)
    assert not AuditEvent.objects.filter(event_type="account:password:change").exists()
    assert AuditEvent.objects.filter(event_type="account:reauthenticate:failure").exists()


def test_password_change_without_csrf_token_is_refused(user, password):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(
        "/account/settings/password/",
        {
            "current_password": password,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 403


def _expire_authentication(client: Client) -> None:
    session = client.session
    session[AUTHENTICATED_AT_KEY] = int(time.time()) - 31 * 60
    session.save()


def test_reauth_marks_the_session_and_returns_to_a_safe_next(user, password):
    client = _log_in(user, password)
    _expire_authentication(client)
    response = client.post(
        "/account/reauthenticate/", {"password": password, "next": "/account/settings/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/account/settings/"
    assert client.session[AUTHENTICATED_AT_KEY] > int(time.time()) - 5


@pytest.mark.parametrize("next_url", ["//evil.com", "https://evil.com", "javascript:alert(1)"])
def test_reauth_never_redirects_off_site(user, password, next_url):
    client = _log_in(user, password)
    response = client.post("/account/reauthenticate/", {"password": password, "next": next_url})
    assert response["Location"] == "/account/settings/"


@pytest.mark.usefixtures("frozen_clock")
def test_reauth_failure_is_recorded_and_counts_toward_the_login_limit(user, password):
    client = _log_in(user, password)
    _expire_authentication(client)
    for _ in range(10):
        response = client.post("/account/reauthenticate/", {"password": "wrong pass"})
        assert response.status_code == 200
        assert b"The password is incorrect" in response.content
    assert AuditEvent.objects.filter(event_type="account:reauthenticate:failure").count() == 10
    response = client.post("/account/reauthenticate/", {"password": password})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    # And the login page is locked for this account too.
    response = Client().post("/account/login/", {"username": user.username, "password": password})
    assert response.status_code == 429


def test_reauth_without_csrf_token_is_refused(user, password):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post("/account/reauthenticate/", {"password": password}).status_code == 403

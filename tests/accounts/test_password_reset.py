"""Password reset: no enumeration, one use, expiry, limits, second factor kept."""

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.test import Client
from django.utils import timezone

from accounts.services import request_password_reset
from auditlog.models import AuditEvent
from tests.accounts.conftest import emails, link_in
from tests.factories import TwoFactorUserFactory, UserFactory

pytestmark = pytest.mark.django_db

RESET_URL = "/account/password-reset/"
NEW_PASSWORD = "a brand new long passphrase 7"


def _reset_link(user) -> str:
    Client().post(RESET_URL, {"identifier": user.username})
    (email,) = emails("accounts/password_reset", user.email)
    return link_in(email, RESET_URL)


def _set_password_through(client: Client, link: str, password: str = NEW_PASSWORD):
    response = client.get(link)
    if response.status_code != 302:
        return response
    return client.post(response["Location"], {"new_password1": password, "new_password2": password})


@pytest.mark.parametrize("identifier", ["username", "email"])
def test_known_and_unknown_accounts_get_the_same_answer(user, identifier):
    known_value = user.username if identifier == "username" else user.email
    unknown_value = "nobody-here" if identifier == "username" else "nobody@example.com"
    known = Client().post(RESET_URL, {"identifier": known_value})
    unknown = Client().post(RESET_URL, {"identifier": unknown_value})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == "/account/password-reset/sent/"
    assert set(known.cookies) == set(unknown.cookies)
    (email,) = emails("accounts/password_reset")
    assert email.recipient == user.email
    event = AuditEvent.objects.get(event_type="account:password:reset:request")
    assert event.user == user


def test_no_email_for_a_disabled_account_or_an_unverified_address(db):
    disabled = UserFactory(is_active=False)
    unverified = UserFactory(email__verified=False)
    Client().post(RESET_URL, {"identifier": disabled.username})
    Client().post(RESET_URL, {"identifier": unverified.username})
    Client().post(RESET_URL, {"identifier": f"{unverified.username}@example.com"})
    assert not emails()
    assert not AuditEvent.objects.exists()


def test_reset_link_sets_the_password_once(user, password):
    link = _reset_link(user)
    client = Client()
    response = _set_password_through(client, link)
    assert response.status_code == 302
    assert response["Location"] == "/account/login/"
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    event = AuditEvent.objects.get(event_type="account:password:reset")
    assert event.user == user
    assert emails("accounts/password_changed", user.email)
    # The same link again: the password hash it was bound to is gone.
    again = Client().get(link)
    assert again.status_code == 400
    assert b"invalid or has expired" in again.content


def test_reset_link_dies_with_a_login(user, password):
    link = _reset_link(user)
    Client().post("/account/login/", {"username": user.username, "password": password})
    assert Client().get(link).status_code == 400


def test_reset_link_expires(user, settings):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        link = _reset_link(user)
        clock.shift(timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 1))
        response = Client().get(link)
    assert response.status_code == 400
    user.refresh_from_db()
    assert not user.check_password(NEW_PASSWORD)


def test_reset_ends_existing_sessions(user, logged_in_client):
    _set_password_through(Client(), _reset_link(user))
    response = logged_in_client.get("/account/settings/")
    assert response.status_code == 302
    assert response["Location"].startswith("/account/login/")


def test_reset_of_a_two_factor_account_still_needs_the_second_factor(settings):
    user = TwoFactorUserFactory()
    _set_password_through(Client(), _reset_link(user))
    client = Client()
    response = client.post("/account/login/", {"username": user.username, "password": NEW_PASSWORD})
    assert response["Location"] == "/account/login/two-factor/"
    assert "_auth_user_id" not in client.session


def test_weak_new_password_is_refused(user):
    response = _set_password_through(Client(), _reset_link(user), password="password123")
    assert response.status_code == 200
    assert b"too common" in response.content
    user.refresh_from_db()
    assert not user.check_password("password123")


@pytest.mark.usefixtures("frozen_clock")
def test_sixth_request_in_a_day_sends_nothing(user, caplog):
    for _ in range(5):
        Client().post(RESET_URL, {"identifier": user.username})
    response = Client().post(RESET_URL, {"identifier": user.username})
    assert response["Location"] == "/account/password-reset/sent/"
    assert len(emails("accounts/password_reset")) == 5
    assert AuditEvent.objects.filter(event_type="account:password:reset:request").count() == 5
    assert "ratelimited password.reset" in caplog.text


def test_reset_request_event_rolls_back_with_its_email(user, rf):
    request = rf.post(RESET_URL, REMOTE_ADDR="203.0.113.1")

    def request_then_fail():
        with transaction.atomic():
            request_password_reset(identifier=user.username, request=request)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        request_then_fail()
    assert not emails()
    assert not AuditEvent.objects.exists()


def test_reset_request_without_csrf_token_is_refused(csrf_client, user):
    response = csrf_client.post(RESET_URL, {"identifier": user.username})
    assert response.status_code == 403
    assert not emails()


def test_reset_form_without_csrf_token_is_refused(user):
    link = _reset_link(user)
    client = Client(enforce_csrf_checks=True)
    form_url = client.get(link)["Location"]
    response = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 403
    user.refresh_from_db()
    assert not user.check_password(NEW_PASSWORD)

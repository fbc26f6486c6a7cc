"""The new-sign-in email: a login from a new browser, or after failed attempts, is told to the
account's owner with when, from where and with what; after failures, how many and whence."""

import re
from datetime import timedelta

import pytest
from django.test import Client

from index_site.models import OutboxEmail

pytestmark = pytest.mark.django_db

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0"


def log_in(client, user, password, address="203.0.113.9"):
    return client.post(
        "/account/login/",
        {"username": user.username, "password": password},
        REMOTE_ADDR=address,
        HTTP_USER_AGENT=UA,
    )


def fail(client, user, address):
    log_in(client, user, "not the password", address)


def notices():
    return OutboxEmail.objects.filter(template="accounts/new_sign_in").order_by("pk")


def test_the_first_login_ever_is_not_news(client, user, password):
    assert log_in(client, user, password).status_code == 302
    assert not notices().exists()


def test_a_login_from_a_new_browser_says_when_where_and_with_what(user, password, frozen_clock):
    log_in(Client(), user, password)
    frozen_clock.shift(timedelta(days=2))
    log_in(Client(), user, password, address="198.51.100.7")
    (notice,) = notices()
    assert notice.subject == "New sign-in to your Gatehouse account"
    text = " ".join(notice.body_text.split())
    assert f'Your account "{user.username}" on Gatehouse was signed in to on' in text
    assert "from 198.51.100.7 with Chrome 156 on Linux, using your password only." in text
    assert "refused" not in text
    assert "change your password now" in text
    assert password not in notice.body_text + notice.body_html


def test_the_same_browser_signing_in_again_is_not_news(user, password, frozen_clock):
    browser = Client()
    log_in(browser, user, password)
    log_in(browser, user, password)
    assert not notices().exists()


def test_a_login_after_failures_says_how_many_since_when_and_from_where(
    user, password, frozen_clock
):
    browser = Client()
    log_in(browser, user, password)
    frozen_clock.shift(timedelta(hours=1))
    fail(browser, user, "192.0.2.1")
    fail(Client(), user, "192.0.2.2")
    fail(Client(), user, "192.0.2.1")
    log_in(browser, user, password)  # a known browser: news only because of the failures
    (notice,) = notices()
    assert notice.subject == "Signed in to Gatehouse after 3 failed attempts"
    for body in (notice.body_text, notice.body_html):
        flat = " ".join(re.sub(r"<[^>]+>", "", body).split())
        assert "3 attempts to sign in were refused since" in flat
        assert "from 192.0.2.1, 192.0.2.2." in flat
        assert "(perhaps after guessing)" in flat
        assert "not the password" not in body


def test_failures_before_the_previous_login_are_not_counted_again(user, password, frozen_clock):
    browser = Client()
    log_in(browser, user, password)
    fail(browser, user, "192.0.2.1")
    log_in(browser, user, password)
    assert notices().count() == 1
    log_in(browser, user, password)
    assert notices().count() == 1
    assert "1 attempt to sign in was refused" in " ".join(notices()[0].body_text.split())

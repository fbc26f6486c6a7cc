"""A burst of failed logins emails the account's owner once a day, saying when and from where."""

from datetime import timedelta

import pytest
from django.core import mail

from accounts.login import FAILURE_BURST_SIZE
from auditlog.events import EventType
from auditlog.models import AuditEvent
from index_site.models import OutboxEmail

pytestmark = pytest.mark.django_db


def fail(client, user, address="203.0.113.9", times=1):
    for _ in range(times):
        client.post(
            "/account/login/",
            {"username": user.username, "password": "not the password"},
            REMOTE_ADDR=address,
        )


def burst_mails():
    return OutboxEmail.objects.filter(template="accounts/login_failures")


def test_a_burst_of_failed_logins_emails_the_owner_once_with_when_and_where(
    client, user, frozen_clock
):
    fail(client, user, "203.0.113.9", times=FAILURE_BURST_SIZE - 1)
    assert not burst_mails().exists()

    fail(client, user, "198.51.100.4")

    (message,) = burst_mails()
    assert message.recipient == user.emails.get(is_primary=True).email
    assert f"{FAILURE_BURST_SIZE} failed attempts" in message.body_text
    assert "203.0.113.9, 198.51.100.4" in message.body_text
    event = AuditEvent.objects.get(event_type=EventType.ACCOUNT_LOGIN_FAILURE_BURST)
    assert event.data["failures"] == FAILURE_BURST_SIZE
    assert event.needs_attention


def test_the_notice_is_sent_at_most_once_a_day(client, user, frozen_clock):
    fail(client, user, times=FAILURE_BURST_SIZE * 2)
    assert burst_mails().count() == 1

    frozen_clock.shift(timedelta(hours=25))
    fail(client, user, "192.0.2.50", times=FAILURE_BURST_SIZE)

    assert burst_mails().count() == 2


def test_failures_spread_out_do_not_count_as_a_burst(client, user, frozen_clock):
    for _ in range(FAILURE_BURST_SIZE):
        fail(client, user)
        frozen_clock.shift(timedelta(minutes=20))

    assert not burst_mails().exists()
    assert mail.outbox == []

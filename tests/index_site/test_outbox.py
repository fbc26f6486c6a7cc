import contextlib
import socket
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.utils import timezone
from kombu.exceptions import OperationalError

from accounts.models import User
from index_site import tasks
from index_site.email import queue_email
from index_site.models import OutboxEmail
from index_site.outbox import (
    CLAIM_DURATION,
    SENT_BODY_NOTE,
    deliver_email,
    message_id_for,
    pending_email_ids,
)
from index_site.tasks import delete_old_emails, send_pending_emails

pytestmark = pytest.mark.django_db

TEST_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@pytest.fixture(autouse=True)
def _test_templates(settings):
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], TEST_TEMPLATES]}
    ]


@pytest.fixture
def queued(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        (pk,) = queue_email(
            recipients=["ada@example.com"],
            template="test_email",
            context={"message": "Hello"},
        )
    return pk, callbacks


def test_queued_email_is_sent_only_after_commit(queued, django_capture_on_commit_callbacks):
    pk, callbacks = queued
    assert mail.outbox == []
    assert len(callbacks) == 1
    callbacks[0]()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ada@example.com"]
    assert "Hello" in mail.outbox[0].body
    assert OutboxEmail.objects.get(pk=pk).sent_at is not None


def test_an_email_is_delivered_exactly_once_when_the_task_runs_twice(queued):
    pk, _ = queued
    assert deliver_email(pk) is True
    assert deliver_email(pk) is False
    send_pending_emails.delay()
    assert len(mail.outbox) == 1


def test_a_failed_send_is_retried_by_the_sweep(queued, settings):
    pk, _ = queued
    settings.EMAIL_BACKEND = "tests.index_site.failing_backend.FailingBackend"
    with pytest.raises(ConnectionRefusedError, match="unreachable"):
        deliver_email(pk)
    assert OutboxEmail.objects.get(pk=pk).attempts == 1
    assert pending_email_ids() == [pk]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    send_pending_emails.delay()
    assert len(mail.outbox) == 1
    assert pending_email_ids() == []


@pytest.mark.django_db(transaction=True)
def test_a_broker_outage_after_commit_leaves_the_change_made_and_the_email_waiting(
    client, monkeypatch
):
    def broker_down(*args, **kwargs):
        raise OperationalError("[Errno 111] Connection refused")

    monkeypatch.setattr(tasks.send_email, "delay", broker_down)
    client.raise_request_exception = False
    password = "a long and unusual passphrase 42"
    response = client.post(
        "/account/register/",
        {
            "username": "grace",
            "name": "",
            "email": "grace@example.com",
            "new_password1": password,
            "new_password2": password,
        },
    )
    assert response.status_code == 302
    assert User.objects.filter(username="grace").exists()
    (waiting,) = OutboxEmail.objects.filter(recipient="grace@example.com")
    assert waiting.sent_at is None
    assert pending_email_ids() == [waiting.pk]
    assert mail.outbox == []


def test_a_sent_email_keeps_no_body(queued):
    pk, _ = queued
    deliver_email(pk)
    row = OutboxEmail.objects.get(pk=pk)
    assert "Hello" not in row.body_text
    assert row.body_text == SENT_BODY_NOTE
    assert row.body_html == ""


def test_an_unsent_email_keeps_its_body_for_the_retry(queued, settings):
    pk, _ = queued
    settings.EMAIL_BACKEND = "tests.index_site.failing_backend.FailingBackend"
    with pytest.raises(ConnectionRefusedError):
        deliver_email(pk)
    assert "Hello" in OutboxEmail.objects.get(pk=pk).body_text


def test_sent_emails_are_deleted_after_the_retention_period(settings):
    settings.OUTBOX_RETENTION_DAYS = 30
    with time_machine.travel(timezone.now() - timedelta(days=31), tick=False):
        (old,) = queue_email(recipients=["a@example.com"], template="test_email", context={})
        deliver_email(old)
        (old_unsent,) = queue_email(recipients=["b@example.com"], template="test_email", context={})
    with time_machine.travel(timezone.now() - timedelta(days=29), tick=False):
        (recent,) = queue_email(recipients=["c@example.com"], template="test_email", context={})
        deliver_email(recent)
    delete_old_emails.delay()
    assert set(OutboxEmail.objects.values_list("pk", flat=True)) == {old_unsent, recent}


def test_every_send_of_a_row_carries_the_same_message_id(queued):
    """A worker killed after the SMTP server accepted a message leaves its row claimed but
    unsent: once the claim lapses the sweep sends it again, recognisably the same message."""
    pk, _ = queued
    (other,) = queue_email(recipients=["bob@example.com"], template="test_email", context={})
    assert deliver_email(pk) is True
    # The row as a worker killed between the SMTP server's acceptance and the mark leaves it.
    OutboxEmail.objects.filter(pk=pk).update(
        sent_at=None, claimed_until=timezone.now() + CLAIM_DURATION
    )
    assert pk not in pending_email_ids()

    with time_machine.travel(timezone.now() + CLAIM_DURATION + timedelta(seconds=1)):
        assert pk in pending_email_ids()
        assert deliver_email(pk) is True
    deliver_email(other)

    first, again, unrelated = (message.message()["Message-ID"] for message in mail.outbox)
    assert first == again == message_id_for(OutboxEmail.objects.get(pk=pk))
    assert unrelated != first
    assert first.endswith(f"@{settings.SITE_HOST}>")


@pytest.fixture
def stalled_smtp_server():
    """An SMTP server that accepts connections and never says a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    listener.settimeout(0.1)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=accept)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_a_stalled_smtp_server_fails_the_delivery_within_the_timeout(
    queued, settings, stalled_smtp_server
):
    pk, _ = queued
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = stalled_smtp_server
    settings.EMAIL_TIMEOUT = 1

    # smtplib reports the timeout as the server having gone away.
    with pytest.raises(OSError, match="timed out") as raised:
        deliver_email(pk)

    # The claim is released and the failure counted: the sweep tries again.
    email = OutboxEmail.objects.get(pk=pk)
    assert (email.attempts, email.last_error, email.claimed_until) == (
        1,
        type(raised.value).__name__,
        None,
    )
    assert email.sent_at is None
    assert pk in pending_email_ids()


def test_email_timeout_defaults_to_thirty_seconds():
    from index_site import settings as site_settings  # noqa: PLC0415 - the module, not overrides

    assert site_settings.EMAIL_TIMEOUT == 30

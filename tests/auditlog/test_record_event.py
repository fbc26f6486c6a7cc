import pytest
from django.db import IntegrityError, transaction
from django.test import RequestFactory

from auditlog.events import EventType
from auditlog.models import AppendOnlyError, AuditEvent
from auditlog.services import record_event

pytestmark = pytest.mark.django_db


def test_record_event_reads_ip_and_user_agent_from_the_request(user):
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.7", HTTP_USER_AGENT="twine/6.0")
    event = record_event(event_type=EventType.ACCOUNT_LOGIN_SUCCESS, actor=user, request=request)
    assert event.ip_address == "192.0.2.7"
    assert event.user_agent == "twine/6.0"
    assert event.user == user
    assert event.username == user.username


def test_record_event_redacts_secret_looking_keys(user):
    event = record_event(
        event_type=EventType.ACCOUNT_LOGIN_FAILURE,
        actor=None,
        user=user,
        data={
            "reason": "bad_password",
            "password": "hunter22",
            "nested": {"totp_code": "123456"},
            "token_name": "ci",
        },
    )
    assert event.data == {
        "reason": "bad_password",
        "password": "[redacted]",
        "nested": {"totp_code": "[redacted]"},
        "token_name": "ci",
    }


def test_audit_events_cannot_be_changed_or_deleted(user):
    event = record_event(event_type=EventType.ACCOUNT_LOGIN_SUCCESS, actor=user)
    event.data = {"forged": True}
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(event_type="account:create")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


def test_events_outlive_the_user_with_a_snapshot_of_the_name(user):
    record_event(event_type=EventType.ACCOUNT_LOGIN_SUCCESS, actor=user)
    username = user.username
    user.delete()
    event = AuditEvent.objects.get()
    assert event.user is None
    assert event.username == username


def test_an_event_rolls_back_with_the_change_it_records(user):
    def change_that_fails():
        with transaction.atomic():
            record_event(event_type=EventType.ACCOUNT_PASSWORD_CHANGE, actor=user)
            raise IntegrityError("the change failed")

    with pytest.raises(IntegrityError):
        change_that_fails()
    assert not AuditEvent.objects.exists()

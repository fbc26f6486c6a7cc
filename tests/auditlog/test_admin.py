import time

import pytest
from django.urls import reverse

from accounts.login import SECOND_FACTOR_VERIFIED_KEY
from accounts.reauth import AUTHENTICATED_AT_KEY
from auditlog.events import EventType
from auditlog.models import AuditEvent
from auditlog.services import record_event
from tests.factories import TwoFactorUserFactory


@pytest.fixture
def admin_client(client, db):
    superuser = TwoFactorUserFactory(is_staff=True, is_superuser=True)
    client.force_login(superuser)
    session = client.session
    session[AUTHENTICATED_AT_KEY] = int(time.time())
    session[SECOND_FACTOR_VERIFIED_KEY] = True
    session.save()
    return client


@pytest.fixture
def event(db):
    user = TwoFactorUserFactory()
    record_event(event_type=EventType.ACCOUNT_CREATE, actor=user)
    return AuditEvent.objects.get()


def test_superuser_can_read_the_audit_log_in_the_admin(admin_client, event):
    response = admin_client.get(reverse("admin:auditlog_auditevent_changelist"))
    assert response.status_code == 200
    assert EventType.ACCOUNT_CREATE in response.content.decode()


def test_superuser_cannot_add_audit_events_in_the_admin(admin_client):
    assert admin_client.get(reverse("admin:auditlog_auditevent_add")).status_code == 403


def test_superuser_cannot_change_or_delete_audit_events_in_the_admin(admin_client, event):
    change_url = reverse("admin:auditlog_auditevent_change", args=[event.pk])
    delete_url = reverse("admin:auditlog_auditevent_delete", args=[event.pk])
    assert admin_client.post(change_url, {"event_type": "forged"}).status_code == 403
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    event.refresh_from_db()
    assert event.event_type == EventType.ACCOUNT_CREATE

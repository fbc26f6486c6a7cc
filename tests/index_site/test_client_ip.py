"""The client IP: only trusted proxy hops are believed, and only IP addresses are returned."""

import pytest
import time_machine
from django.test import Client, RequestFactory
from django.utils import timezone

from auditlog.events import EventType
from auditlog.models import AuditEvent
from auditlog.services import record_event
from index_site.client_ip import client_ip
from tests.factories import UserFactory


def _request(forwarded_for: str | None, remote_addr: str = "192.0.2.10"):
    extra = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return RequestFactory().get("/", **extra)


def test_the_address_the_trusted_proxy_saw_is_the_client(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(_request("10.9.9.9, 203.0.113.7")) == "203.0.113.7"


def test_without_trusted_proxies_forwarded_for_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(_request("203.0.113.7")) == "192.0.2.10"


@pytest.mark.parametrize(
    "forwarded_for",
    ["not-an-ip", "' OR 1=1 --", "203.0.113.7:8080", "fe80::1%eth0", "999.1.1.1", "x" * 500],
)
def test_a_forwarded_value_that_is_not_an_ip_falls_back_to_the_peer(settings, forwarded_for):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(_request(forwarded_for)) == "192.0.2.10"


def test_ipv6_addresses_come_back_in_canonical_form(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(_request("2001:DB8:0:0::1")) == "2001:db8::1"


def test_a_peer_address_that_is_not_an_ip_gives_no_address(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(_request(None, remote_addr="unix:/run/gunicorn.sock")) == ""


@pytest.mark.django_db
def test_an_audit_event_with_a_garbage_forwarded_for_is_recorded_with_the_peer(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    user = UserFactory()
    record_event(
        event_type=EventType.ACCOUNT_LOGIN_SUCCESS,
        actor=user,
        request=_request("<script>"),
        user=user,
    )
    assert AuditEvent.objects.get().ip_address == "192.0.2.10"


@pytest.mark.django_db
def test_rotating_garbage_forwarded_for_does_not_escape_the_login_ip_limit(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    users = UserFactory.create_batch(11)
    with time_machine.travel(timezone.now(), tick=False):
        for number, user in enumerate(users):
            response = Client(REMOTE_ADDR="192.0.2.10").post(
                "/account/login/",
                {"username": user.username, "password": "wrong pass"},
                HTTP_X_FORWARDED_FOR=f"junk-{number}",
            )
    assert response.status_code == 429
    assert AuditEvent.objects.filter(ip_address="192.0.2.10").count() == 10

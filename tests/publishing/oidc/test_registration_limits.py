"""Publisher registrations are limited per user and per IP address (security.md §3G 112)."""

import pytest
from django.test import Client

from projects.models import Role
from publishing.models import TrustedPublisher
from tests.factories import TwoFactorUserFactory
from tests.publishing.oidc.test_pages import URL, _github_form, _login

pytestmark = pytest.mark.django_db


def _register(client: Client, workflow: str, ip: str):
    return client.post(URL, _github_form(**{"github-workflow_filename": workflow}), REMOTE_ADDR=ip)


def test_publisher_registrations_are_limited_per_ip_across_users(owner, project, settings):
    settings.PUBLISHER_REGISTRATION_RATE_LIMIT = "2/d"
    co_owner = TwoFactorUserFactory()
    Role.objects.create(project=project, user=co_owner, role=Role.Kind.OWNER)
    first, second = Client(), Client()
    _login(first, owner)
    _login(second, co_owner)
    for index in range(2):
        assert _register(first, f"w{index}.yml", "203.0.113.4").status_code == 302

    same_ip = _register(second, "w8.yml", "203.0.113.4")
    other_ip = _register(second, "w9.yml", "198.51.100.4")

    assert same_ip.status_code == 429
    assert "Too many attempts. Wait a few minutes and try again." in same_ip.content.decode()
    assert int(same_ip["Retry-After"]) > 0
    assert other_ip.status_code == 302
    assert set(TrustedPublisher.objects.values_list("workflow_filename", flat=True)) == {
        "w0.yml",
        "w1.yml",
        "w9.yml",
    }

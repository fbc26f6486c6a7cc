"""Every account URL refuses a POST without a CSRF token (none is exempt)."""

import uuid

import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from accounts import urls as account_urls
from auditlog.models import AuditEvent

pytestmark = pytest.mark.django_db

SAMPLE_KWARGS = {
    "int": 1,
    "string": "sample",
    "slug": "sample",
    "path": "sample",
    "text": "sample",  # index_site.url_converters
    "textpath": "sample",
    "uuid": uuid.UUID(int=1),
}


def _sample_url(pattern: URLPattern) -> str:
    kwargs = {
        name: SAMPLE_KWARGS[type(converter).__name__.removesuffix("Converter").lower()]
        for name, converter in pattern.pattern.converters.items()
    }
    return reverse(f"accounts:{pattern.name}", kwargs=kwargs)


@pytest.mark.parametrize(
    "pattern", account_urls.urlpatterns, ids=lambda pattern: pattern.name or str(pattern)
)
@pytest.mark.parametrize("logged_in", [False, True], ids=["anonymous", "logged-in"])
def test_post_without_csrf_token_is_refused(pattern, logged_in, user):
    client = Client(enforce_csrf_checks=True)
    if logged_in:
        client.force_login(user)
    response = client.post(_sample_url(pattern), {"password": "x", "username": user.username})
    assert response.status_code == 403
    assert not AuditEvent.objects.exists()

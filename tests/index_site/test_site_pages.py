"""Health checks over plain HTTP, the friendly error pages, and the security headers of every
response."""

import pytest
from django.test import Client

from tests.accounts.two_factor.conftest import login_recently
from tests.admin_login import log_in_for_admin
from tests.factories import TwoFactorUserFactory
from tests.url_walk import walk_urls

pytestmark = pytest.mark.django_db


def test_health_is_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/_/health").status_code == 200
    assert client.get("/_/health/live").status_code == 200
    assert client.get("/").status_code == 301


def test_unknown_address_gets_the_friendly_404_page(client):
    response = client.get("/no-such-page/anywhere")
    assert response.status_code == 404
    content = response.content.decode()
    assert "Not found" in content
    assert "There is nothing at this address." in content
    assert 'href="/"' in content
    assert "Traceback" not in content


@pytest.mark.urls("tests.index_site.error_urls")
def test_permission_denied_shows_the_views_reason(client):
    response = client.get("/test-errors/forbidden")
    assert response.status_code == 403
    assert "Only owners of this project can change its settings." in response.content.decode()


@pytest.mark.urls("tests.index_site.error_urls")
def test_bad_request_page_hides_internal_details(client):
    response = client.get("/test-errors/suspicious")
    assert response.status_code == 400
    content = response.content.decode()
    assert "The request could not be understood." in content
    assert "internal detail" not in content


@pytest.mark.urls("tests.index_site.error_urls")
def test_server_error_page_hides_internal_details():
    client = Client(raise_request_exception=False)
    response = client.get("/test-errors/broken")
    assert response.status_code == 500
    content = response.content.decode()
    assert "Something went wrong" in content
    assert "internal detail" not in content


def test_csrf_failure_page_says_what_to_do(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/")
    assert response.status_code == 403
    assert "reload the page and try again" in response.content.decode()


@pytest.mark.parametrize("path", ["/", "/_/health", "/no-such-page"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp
    assert "camera=()" in response["Permissions-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_no_page_can_be_framed_or_drop_the_permissions_policy(client):
    """Every URL, as a superuser who may open it: a view setting its own CSP keeps the rules."""
    superuser = TwoFactorUserFactory(is_staff=True, is_superuser=True)
    log_in_for_admin(client, superuser)
    login_recently(client, superuser)
    problems = []
    for walked in walk_urls():
        response = client.get(walked.path)
        if (
            "frame-ancestors 'none'" not in response.get("Content-Security-Policy", "")
            or response.get("X-Frame-Options") != "DENY"
            or "camera=()" not in response.get("Permissions-Policy", "")
        ):
            problems.append(f"{walked.route}: answered {response.status_code} without them")
    assert problems == []

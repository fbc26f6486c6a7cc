"""The two-factor setup detour keeps and follows only same-site URLs: whatever `next` or
Referer a link or form carries, the person never leaves the site after adding a method."""

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.next_urls import (
    RETURN_URL_KEY,
    safe_next_url,
    two_factor_setup_redirect,
    where_the_request_was_going,
)
from tests.accounts.two_factor.conftest import (
    code_at,
    current_step,
    login_recently,
    pending_secret,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# Open-redirect shapes: other hosts, scheme-relative, backslash tricks, userinfo, other
# schemes, a leading control character, and an http link from an https page.
UNSAFE = [
    "https://evil.example/",
    "//evil.example/path",
    "/\\evil.example",
    "\\\\evil.example",
    "http://testserver@evil.example/",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "ftp://testserver/",
    "\t//evil.example",
]
SAFE = ["/manage/projects/", "/invitations/abc:def/?x=1", "http://testserver/admin/"]


@pytest.mark.parametrize("candidate", UNSAFE)
def test_an_unsafe_next_is_neither_kept_nor_followed(client, candidate):
    user = UserFactory()
    login_recently(client, user)
    page = client.get(reverse("accounts:two_factor"), {"next": candidate})
    assert page.status_code == 200
    assert RETURN_URL_KEY not in client.session
    assert "the page you were opening" not in page.content.decode()
    client.get(reverse("accounts:totp_setup"))
    secret = pending_secret(client)
    added = client.post(reverse("accounts:totp_setup"), {"code": code_at(secret, current_step())})
    assert added["Location"] == reverse("accounts:recovery_codes")
    codes_page = client.get(reverse("accounts:recovery_codes")).content.decode()
    assert f'href="{reverse("accounts:two_factor")}">I have saved my codes' in codes_page


@pytest.mark.parametrize("candidate", UNSAFE)
def test_an_unsafe_page_is_never_put_into_the_setup_link(candidate):
    request = RequestFactory().post("/x", HTTP_REFERER=candidate)
    assert where_the_request_was_going(request) == candidate
    response = two_factor_setup_redirect(request, next_url=candidate)
    assert response["Location"] == reverse("accounts:two_factor")


@pytest.mark.parametrize("candidate", SAFE)
def test_a_same_site_next_is_followed_after_the_method_is_added(candidate):
    user = UserFactory()
    client = Client()
    login_recently(client, user)
    client.get(reverse("accounts:two_factor"), {"next": candidate})
    assert client.session[RETURN_URL_KEY] == candidate
    client.get(reverse("accounts:totp_setup"))
    secret = pending_secret(client)
    client.post(reverse("accounts:totp_setup"), {"code": code_at(secret, current_step())})
    codes_page = client.get(reverse("accounts:recovery_codes")).content.decode()
    assert f'href="{candidate}">I have saved my codes' in codes_page
    assert RETURN_URL_KEY not in client.session  # followed once


def test_an_https_site_does_not_return_to_an_http_page():
    request = RequestFactory().get("/", secure=True)
    assert safe_next_url(request, "http://testserver/admin/") == ""
    assert safe_next_url(request, "https://testserver/admin/") == "https://testserver/admin/"


def test_a_login_that_needs_two_factor_first_keeps_its_next(client, settings):
    settings.TWO_FACTOR_POLICY = "all"
    user = UserFactory(password="correct horse battery staple")
    response = client.post(
        reverse("accounts:login") + "?next=/manage/projects/",
        {"username": user.username, "password": "correct horse battery staple"},
    )
    assert response["Location"] == reverse("accounts:two_factor") + "?next=%2Fmanage%2Fprojects%2F"

"""The install path answers without the session machinery, and loses nothing else by it.

Every other test of the simple pages, the JSON API and downloads (outages, the dead-connection
retry, headers, conditional requests) goes through the same shorter chain, since the test
client enters by MIDDLEWARE's first entry as a web worker does.
"""

import pytest
from django.test import Client
from django.urls import resolve

from index_site.stateless import is_stateless
from tests.factories import UserFactory
from tests.url_walk import walk_urls

pytestmark = pytest.mark.django_db

# Reviewed: each of these reads nothing of the person asking. Marking another view @stateless
# must be a decision someone reviews here, since its page then sees no session or user.
STATELESS_ROUTES = {
    "simple/",
    "simple/<text:name>/",
    "files/<textpath:path>",
    "pypi/<text:name>/json",
    "pypi/<text:name>/json/",
    "pypi/<text:name>/<text:version>/json",
    "pypi/<text:name>/<text:version>/json/",
}
SECURITY_HEADERS = (
    "Content-Security-Policy",
    "Permissions-Policy",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
    "X-Request-ID",
)


@pytest.fixture
def release(memory_storage, stored_wheel):
    release = stored_wheel.release
    release.canonical_version = "1"  # what an upload of 1.0 stores
    release.save(update_fields=["canonical_version"])
    return release


@pytest.fixture
def signed_in(client):
    client.force_login(UserFactory())
    return client


def _install_paths(release) -> list[str]:
    file = release.files.get()
    return [
        "/simple/",
        "/simple/sample-project/",
        f"/files/{file.path}",
        "/pypi/sample-project/json",
        f"/pypi/sample-project/{release.version}/json",
    ]


def test_exactly_the_reviewed_views_are_stateless():
    marked = {url.route for url in walk_urls() if is_stateless(resolve(url.path).func)}

    assert marked == STATELESS_ROUTES


def test_every_stateless_view_answers_only_safe_methods():
    for url in walk_urls():
        if url.route in STATELESS_ROUTES:
            response = Client().post(url.path)
            assert response.status_code in {403, 405}, url.route


def test_install_path_skips_the_session_and_user_even_for_a_signed_in_person(signed_in, release):
    for path in _install_paths(release):
        response = signed_in.get(path)

        assert response.status_code == 200, path
        request = response.wsgi_request
        assert not hasattr(request, "session"), path
        assert getattr(request, "user", None) is None, path
        assert "Set-Cookie" not in response.headers, path
        assert "Cookie" not in response.headers.get("Vary", ""), path


def test_other_pages_keep_the_session_and_user(signed_in, release):
    response = signed_in.get("/project/sample-project/")

    assert response.status_code == 200
    assert response.wsgi_request.user.is_authenticated


def test_install_path_keeps_every_security_header(client, release):
    full = client.get("/project/sample-project/")
    for path in _install_paths(release):
        response = client.get(path)

        for header in SECURITY_HEADERS:
            assert header in response.headers, (path, header)
            if header != "X-Request-ID":
                assert response.headers[header] == full.headers[header], (path, header)


def test_install_path_refuses_a_host_not_allowed(client, release):
    response = client.get("/simple/sample-project/", HTTP_HOST="attacker.example")

    assert response.status_code == 400


def test_a_post_to_an_install_path_meets_the_csrf_check(caplog):
    """Only safe methods take the shorter chain: anything else goes through all of it."""
    response = Client(enforce_csrf_checks=True).post("/simple/")

    assert response.status_code == 403
    assert [r.name for r in caplog.records] == ["django.security.csrf"]


def test_a_path_that_resolves_to_nothing_still_gets_the_slash_redirect(client, release):
    response = client.get("/simple/sample-project")

    assert response.status_code == 301
    assert response.headers["Location"] == "/simple/sample-project/"

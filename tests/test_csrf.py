"""CSRF protection on every URL the site serves, found by walking the URL resolver.

A logged-in browser session must never be able to change state from another site: every view
refuses a POST without a CSRF token, except the machine endpoints listed below, which
authenticate by API token or OIDC token and ignore the session entirely.
"""

import pytest
from django.test import Client
from django.urls import Resolver404, resolve

from index_site.views import CSRF_FAILURE_MESSAGE
from tests.factories import TwoFactorUserFactory
from tests.url_walk import WalkedUrl, walk_urls

# csrf_exempt endpoints that must stay exempt (clients like twine, uv and CI runners send no
# CSRF token): each authenticates with a token in the request, never with the session cookie.
MUST_BE_EXEMPT = {
    "/legacy/": "upload API (twine, uv): API token in the Authorization header",
    "/legacy": "the upload API without its slash: twine never follows a redirect",
    "/_/oidc/mint-token": "trusted publishing: OIDC token in the body",
    "/_/oidc/github/mint-token": "trusted publishing (GitHub alias): OIDC token in the body",
    "/_/oidc/burn-token": "trusted publishing: the token to burn is the credential",
    "/_/secrets/disclose-token": "secret scanning report: signed by the scanning service",
}
# Token-authenticated or read-only API endpoints that may be csrf_exempt (DRF views are).
MAY_BE_EXEMPT = {
    "/_/oidc/audience": "read-only: the audience string, the same for everybody",
    "/_/health": "read-only: the dependencies' status, for load balancers",
    "/_/health/live": "read-only: answers while the process serves",
    "/_/api/schema/": "read-only: the OpenAPI schema of the JSON endpoints",
    "/_/tokens/current": "API: the API token in the Authorization header",
    **dict.fromkeys(
        ("/pypi/x/json", "/pypi/x/json/", "/pypi/x/x/json", "/pypi/x/x/json/"),
        "read-only JSON API: public, no session, GET only",
    ),
}
ALLOWED_EXEMPT = MUST_BE_EXEMPT.keys() | MAY_BE_EXEMPT.keys()

WALKED = walk_urls()


def _is_exempt(path: str) -> bool:
    return bool(getattr(resolve(path).func, "csrf_exempt", False))


@pytest.fixture
def logged_in_client(db) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(TwoFactorUserFactory())
    return client


def test_the_walk_covers_the_site():
    paths = {walked.path for walked in WALKED}
    assert {"/", "/_/health", "/admin/"} <= paths
    for walked in WALKED:
        resolve(walked.path)  # every built path reaches a view


def _refusal_problem(client: Client, walked: WalkedUrl) -> str | None:
    """Return why the POST to `walked` was not refused as it must be, or None."""
    response = client.post(walked.path, {"name": "attacker"})
    status = response.status_code
    if _is_exempt(walked.path):
        if walked.path not in ALLOWED_EXEMPT:
            return f"{walked.route}: csrf_exempt but not an allowlisted machine endpoint"
        # A session cookie alone must never make a machine endpoint act.
        if not 400 <= status < 500:
            return f"{walked.route}: csrf_exempt endpoint answered {status} to a session POST"
        return None
    if status != 403 or CSRF_FAILURE_MESSAGE not in response.content.decode():
        return f"{walked.route}: answered {status}, not the CSRF refusal"
    return None


def test_post_without_csrf_token_is_refused_everywhere(logged_in_client):
    # One test over every URL (not one per URL): the logged-in user is made once.
    problems = [_refusal_problem(logged_in_client, walked) for walked in WALKED]
    assert [problem for problem in problems if problem] == []


def test_csrf_exempt_views_are_exactly_the_allowlisted_machine_endpoints():
    exempt = {walked.path for walked in WALKED if _is_exempt(walked.path)}
    assert exempt <= ALLOWED_EXEMPT, f"unexpected csrf_exempt views: {exempt - ALLOWED_EXEMPT}"
    served = set()
    for path in MUST_BE_EXEMPT:
        try:
            resolve(path)
        except Resolver404:
            continue
        served.add(path)
    assert {path for path in served if not _is_exempt(path)} == set(), (
        "machine endpoints must be csrf_exempt, or twine, uv and CI runners cannot post to them"
    )


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "null",
        "https://testserver",  # the site's host under another scheme
        "http://sub.testserver",
        "http://testserver:8443",
    ],
)
def test_post_with_a_valid_csrf_token_from_another_origin_is_refused(origin, user, password):
    client = Client(enforce_csrf_checks=True)
    client.get("/account/login/")
    form = {
        "username": user.username,
        "password": password,
        "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
    }

    refused = client.post("/account/login/", form, HTTP_ORIGIN=origin)

    assert refused.status_code == 403
    assert CSRF_FAILURE_MESSAGE in refused.content.decode()
    assert "_auth_user_id" not in client.session
    # The same form from the site's own origin goes through: the Origin alone was refused.
    accepted = client.post("/account/login/", form, HTTP_ORIGIN="http://testserver")
    assert accepted.status_code == 302

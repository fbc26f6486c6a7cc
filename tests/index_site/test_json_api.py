"""The JSON endpoints as DRF views: one base, no DRF authentication, the schema lists them all."""

import json
import re

import pytest
from django.urls import resolve
from rest_framework.views import APIView

from tests.url_walk import walk_urls

pytestmark = pytest.mark.django_db

DRF_URLS = {
    walked.path: resolve(walked.path).func.cls
    for walked in walk_urls()
    if isinstance(getattr(resolve(walked.path).func, "cls", None), type)
    and issubclass(resolve(walked.path).func.cls, APIView)
}


def test_the_json_endpoints_are_drf_views():
    assert {
        "/_/oidc/audience",
        "/_/oidc/mint-token",
        "/_/oidc/github/mint-token",
        "/_/oidc/burn-token",
        "/_/secrets/disclose-token",
        "/_/tokens/current",
        "/_/health",
        "/_/health/live",
        "/_/api/schema/",
    } <= DRF_URLS.keys()


@pytest.mark.parametrize("path", sorted(DRF_URLS))
def test_no_drf_view_authenticates_or_authorizes_by_itself(path):
    # A DRF authentication class would let a session (SessionAuthentication, with DRF's own
    # CSRF rules) or some other credential in beside the site's token and signature checks.
    view = DRF_URLS[path]
    assert tuple(view.authentication_classes) == ()
    assert tuple(view.permission_classes) == ()


def test_the_schema_is_openapi_3_and_lists_every_json_endpoint(client):
    response = client.get("/_/api/schema/")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    # The walk fills every URL parameter with "x"; a route served with and without its trailing
    # slash is documented once, without.
    documented = {re.sub(r"\{[^}]+\}", "x", path) for path in schema["paths"]}
    aliases = {path for path in DRF_URLS if path.endswith("/json/")}
    assert documented == DRF_URLS.keys() - aliases - {"/_/api/schema/"}


@pytest.mark.parametrize(
    ("content_type", "accept"),
    [
        ("text/plain", "text/html"),
        ("application/x-www-form-urlencoded", "application/xml"),
        ("", ""),
    ],
)
def test_a_json_endpoint_reads_json_and_answers_json_whatever_the_headers_say(
    client, content_type, accept
):
    # CI clients label bodies and Accept loosely; neither may turn into a 406 or a 415.
    response = client.generic(
        "POST",
        "/_/oidc/burn-token",
        json.dumps({"token": "pypi-not-a-token"}),
        content_type=content_type,
        HTTP_ACCEPT=accept,
    )

    assert response.status_code == 422
    assert response["Content-Type"] == "application/json"
    assert response.json()["errors"][0]["code"] == "invalid-token"


@pytest.mark.parametrize(
    ("path", "method", "allowed"),
    [
        ("/_/oidc/mint-token", "get", "POST"),
        ("/_/oidc/audience", "post", "GET"),
        ("/_/tokens/current", "options", "DELETE"),
        ("/_/health", "put", "GET"),
    ],
)
def test_a_method_an_endpoint_does_not_answer_is_refused_in_a_sentence(
    client, path, method, allowed
):
    response = getattr(client, method)(path)

    assert response.status_code == 405
    assert response["Allow"] == allowed
    body = response.json()
    message = body["message"] if "errors" not in body else body["errors"][0]["description"]
    assert message == f"This endpoint does not answer {method.upper()}; send {allowed}."


@pytest.mark.parametrize("path", ["/_/oidc/audience", "/_/health", "/_/health/live"])
def test_json_answers_are_never_cached(client, path):
    assert "no-cache" in client.get(path)["Cache-Control"]

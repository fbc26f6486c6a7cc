"""No input reaches a 500: a bounded fuzz over every URL of the site, anonymous and logged in.

Each example is one request's parts: a method, fuzzed text for the URL's text captures, a query
string, an Accept and an Authorization header, and a form, multipart, JSON, deeply nested or
binary body; it is sent through Django's full request path to a few walked URLs. The inputs that
reached a 500 before (NUL in a URL or a query value, a lone surrogate in JSON, 1,000 nested
arrays) go to every URL of the site on every run. Any 5xx, or an exception escaping a view,
fails with the request that caused it. Run against PostgreSQL in CI: that is where a NUL in a
lookup becomes an error."""

import base64
import json
from urllib.parse import quote, urlencode

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.accounts.two_factor.conftest import login_recently
from tests.factories import ProjectFactory, RoleFactory, TwoFactorUserFactory
from tests.url_walk import walk_urls

# A fixed seed and no example database: the same requests on every run, a bounded time.
FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PROJECT = "sample-project"
FIELD_NAMES = [
    "name", "username", "password", "email", "code", "token", "next", "format", "order",
    "critical", "page", "kind", "provider", "selected_project", "label", "role", "reason",
    ":action", "protocol_version", "version", "metadata_version", "filetype", "pyversion",
    "sha256_digest", "content", "q", "credential", "projects", "expires", "ip_networks",
]  # fmt: skip
HOSTILE_TEXT = ["\x00", "\ud800", "\udfff", "\x1b[31m", "\r\n", "\u202e", "%00", "../", "\ufeff"]

text = st.one_of(
    st.text(max_size=20),
    st.sampled_from(HOSTILE_TEXT),
    st.builds(lambda a, b, c: a + b + c, st.text(max_size=5), st.sampled_from(HOSTILE_TEXT),
              st.text(max_size=5)),
    st.sampled_from([PROJECT, "1", "-1", "99999999999999999999999", "", "json", "html"]),
)  # fmt: skip
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | text, children, max_size=4)
    ),
    max_leaves=12,
)


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def _segment(value: str) -> str:
    # A lone surrogate cannot be UTF-8 encoded: send its bytes as WTF-8 would, percent-encoded.
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


# Every URL of the site, with its text captures as a placeholder the fuzzed text replaces.
CAPTURE = "\x01"
TEMPLATES = sorted({walked.path for walked in walk_urls(text_sample=CAPTURE)})
queries = st.dictionaries(st.sampled_from(FIELD_NAMES), text, max_size=3)


@st.composite
def authorization(draw) -> str:
    secret = draw(text)
    kind = draw(st.sampled_from(["basic-token", "basic-user", "bearer", "token", "raw"]))
    if kind == "basic-token":
        raw = f"__token__:pypi-{secret}".encode("utf-8", "surrogatepass")
        return "Basic " + base64.b64encode(raw).decode()
    if kind == "basic-user":
        return "Basic " + base64.b64encode(f"{secret}:{secret}".encode(errors="replace")).decode()
    if kind == "raw":
        return secret.encode(errors="replace").decode("latin-1")
    return f"{kind.title()} pypi-{secret}".encode(errors="replace").decode("latin-1")


@st.composite
def requests(draw) -> dict:
    """One request's parts and the URLs (a few of the site's) it is sent to."""
    headers = {
        "HTTP_ACCEPT": draw(st.sampled_from(
            ["*/*", "application/json", "application/vnd.pypi.simple.v1+json", "text/html",
             "application/vnd.pypi.simple.v1+html;q=0.1, x/y", ";;;", "\x00"]
        )),
    }  # fmt: skip
    if draw(st.booleans()):
        headers["HTTP_AUTHORIZATION"] = draw(authorization())
    method = draw(st.sampled_from(["get", "post", "post", "head", "delete"]))
    request = {
        "templates": draw(
            st.lists(st.sampled_from(TEMPLATES), min_size=1, max_size=8, unique=True)
        ),
        "method": method,
        "capture": draw(text),
        "query": draw(queries),
        **headers,
    }
    if method == "post":
        body = draw(st.sampled_from(["form", "multipart", "json", "deep", "garbage"]))
        request["body_kind"] = body
        if body in {"form", "multipart"}:
            request["data"] = draw(st.dictionaries(st.sampled_from(FIELD_NAMES), text, max_size=6))
        elif body == "json":
            request["data"] = json.dumps(draw(json_values))
        elif body == "deep":
            request["data"] = _deep(draw(st.sampled_from([33, 1_000, 20_000])))
        else:
            request["data"] = draw(st.binary(max_size=64))
    return request


def _send(client: Client, template: str, request: dict):
    path = template.replace(CAPTURE, _segment(request["capture"]))
    if request["query"]:
        query = {
            key: value.encode("utf-8", "surrogatepass") for key, value in request["query"].items()
        }
        path = f"{path}?{urlencode(query)}"
    headers = {key: value for key, value in request.items() if key.startswith("HTTP_")}
    send = getattr(client, request["method"])
    kind = request.get("body_kind")
    if kind == "multipart":
        return send(path, _form(request["data"]), **headers)
    if kind == "form":
        body = urlencode(_form(request["data"]))
        return send(path, body, content_type="application/x-www-form-urlencoded", **headers)
    if kind in {"json", "deep"}:
        return send(path, request["data"], content_type="application/json", **headers)
    if kind == "garbage":
        return send(path, request["data"], content_type="application/octet-stream", **headers)
    return send(path, **headers)


def _form(data: dict[str, str]) -> dict[str, str]:
    # Form bodies are bytes on the wire: a lone surrogate arrives as its (invalid) UTF-8 bytes.
    return {key: value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
            for key, value in data.items()}  # fmt: skip


def _everywhere(**request) -> dict:
    return {"templates": TEMPLATES, "capture": "x", "query": {}, "HTTP_ACCEPT": "*/*", **request}


# The classes of input that reached a 500 before, sent to every URL on every run.
KNOWN_BREAKERS = [
    _everywhere(method="get", capture="a\x00b"),
    _everywhere(method="get", query=dict.fromkeys(FIELD_NAMES, "\x00")),
    _everywhere(method="post", capture="\x00", body_kind="form", data={"name": "a\x00"}),
    _everywhere(method="post", body_kind="deep", data=_deep(1_000)),
    _everywhere(
        method="post",
        body_kind="json",
        data=json.dumps({"token": "\ud800", "credential": {"id": "\x00"}}),
        HTTP_AUTHORIZATION="Bearer pypi-\x00",
    ),
]


def breakers_and_fuzz(test):
    """Run `test` on every known breaker, then on FUZZ's drawn requests."""
    for known in reversed(KNOWN_BREAKERS):
        test = example(sent=known)(test)
    return FUZZ(given(sent=requests())(test))


def _server_errors(request: dict, client_for_each_request) -> dict[str, int]:
    answers = {
        template: _send(client_for_each_request(), template, request).status_code
        for template in request["templates"]
    }
    return {template: status for template, status in answers.items() if status >= 500}


@pytest.fixture
def owner(db):
    user = TwoFactorUserFactory()
    RoleFactory(user=user, project=ProjectFactory(name=PROJECT))
    return user


@breakers_and_fuzz
def test_no_request_from_an_anonymous_client_gets_a_server_error(owner, sent):
    client = Client()
    assert _server_errors(sent, lambda: client) == {}, sent


@breakers_and_fuzz
def test_no_request_from_a_logged_in_owner_with_two_factor_gets_a_server_error(owner, sent):
    client = Client()

    def logged_in() -> Client:
        # A fuzzed POST may have logged out or rotated the session: log in again, then go on.
        if client.session.get(SESSION_KEY) != str(owner.pk):
            login_recently(client, owner)
        return client

    assert _server_errors(sent, logged_in) == {}, sent

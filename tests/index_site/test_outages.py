"""A database, cache or storage outage answers 503 with Retry-After and a sentence, never a 500.

The database is reached through a TCP proxy the test cuts, the cache is a Redis server of the
test's own that it stops, and the storage is a media directory whose mount point is gone; the
machine's shared servers are never touched.
"""

import logging
from pathlib import Path

import pytest
import time_machine
from django.db import DatabaseError, close_old_connections
from django.test import Client

from index_site.outages import (
    EPISODE_QUIET_PERIOD,
    MESSAGES,
    RETRY_AFTER_SECONDS,
    Dependency,
    outage_of,
)
from projects.models import File
from tests.factories import TwoFactorUserFactory
from tests.publishing.upload.conftest import USER_AGENT, basic_auth
from tests.publishing.upload.dists import make_wheel, multipart_body

pytestmark = pytest.mark.services

UV_ACCEPT = "application/json;q=0.9, text/plain;q=0.8, text/html;q=0.7"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def upload(outage_client: Client, token: str, *, accept: str = "*/*"):
    wheel = make_wheel()
    body, content_type = multipart_body(
        wheel.form(),
        filename=wheel.filename,
        content=wheel.content,
        content_type="application/octet-stream",
    )
    return outage_client.generic(
        "POST",
        "/legacy/",
        body,
        content_type=content_type,
        HTTP_AUTHORIZATION=basic_auth(token),
        HTTP_ACCEPT=accept,
        HTTP_USER_AGENT=USER_AGENT,
    )


def login(outage_client: Client, *, accept: str = BROWSER_ACCEPT):
    return outage_client.post(
        "/account/login/",
        {"username": "uploader", "password": "a wrong password"},
        HTTP_ACCEPT=accept,
    )


REQUESTS = {
    "simple index (pip)": lambda outage_client, token: outage_client.get(
        "/simple/sample-pkg/", HTTP_ACCEPT="application/vnd.pypi.simple.v1+json, text/html;q=0.01"
    ),
    "project page": lambda outage_client, token: outage_client.get(
        "/project/sample-pkg/", HTTP_ACCEPT=BROWSER_ACCEPT
    ),
    "login": lambda outage_client, token: login(outage_client),
    "upload (twine)": upload,
    "upload (uv)": lambda outage_client, token: upload(outage_client, token, accept=UV_ACCEPT),
}


def mint_token(outage_client: Client, _token: str):
    """Rate limited before anything else, so it meets a cache outage (not a database one)."""
    return outage_client.post(
        "/_/oidc/mint-token",
        {"token": "a.b.c"},
        content_type="application/json",
        HTTP_ACCEPT="application/json",
    )


def assert_outage_answer(response, dependency: Dependency) -> None:
    """503, Retry-After, never cached, and the dependency's sentence in the outage_client's form."""
    message = MESSAGES[dependency]
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert "no-cache" in response["Cache-Control"]
    assert response.reason_phrase == message
    content_type = response["Content-Type"]
    if content_type.startswith("application/json"):
        assert response.json() == {
            "message": message,
            "code": f"503 {message}",
            "title": "Service Unavailable",
        }
    elif content_type.startswith("text/plain"):
        assert response.content.decode() == message + "\n"
    else:
        assert content_type.startswith("text/html")
        assert message in response.content.decode()


def outage_lines(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.WARNING]


@pytest.mark.parametrize("request_name", REQUESTS)
def test_requests_answer_503_while_the_database_is_down(
    database, outage_client, token, request_name
):
    database.cut()

    response = REQUESTS[request_name](outage_client, token)

    assert_outage_answer(response, Dependency.DATABASE)


@pytest.mark.parametrize(
    ("request_name", "content_type"),
    [
        ("simple index (pip)", "text/html"),
        ("login", "text/html"),
        ("upload (twine)", "text/plain"),
        ("upload (uv)", "application/json"),
    ],
)
def test_each_client_reads_the_outage_in_its_own_form(
    database, outage_client, token, request_name, content_type
):
    database.cut()
    assert REQUESTS[request_name](outage_client, token)["Content-Type"].startswith(content_type)


def test_a_connection_cut_between_requests_is_an_outage_then_recovers(
    database, outage_client, token
):
    assert upload(outage_client, token).status_code == 200
    database.cut()
    assert_outage_answer(outage_client.get("/simple/sample-pkg/"), Dependency.DATABASE)

    database.restore()
    # What the start of every request does under a real server (Django's test client skips it):
    # a connection that failed is checked, and closed when it no longer answers.
    close_old_connections()

    assert outage_client.get("/simple/sample-pkg/").status_code == 200


def test_an_outage_episode_writes_one_log_line_and_no_traceback(
    database, outage_client, token, caplog
):
    database.cut()
    with caplog.at_level(logging.INFO):
        for send in REQUESTS.values():
            assert send(outage_client, token).status_code == 503

    (line,) = outage_lines(caplog)
    assert line.name == "index_site.outages"
    assert line.dependency == "database"
    assert line.exc_info is None


def test_failures_after_a_quiet_period_start_a_new_episode(database, outage_client, token, caplog):
    database.cut()
    with time_machine.travel(0, tick=False) as clock, caplog.at_level(logging.INFO):
        outage_client.get("/simple/sample-pkg/")
        clock.shift(EPISODE_QUIET_PERIOD / 2)
        outage_client.get("/simple/sample-pkg/")
        clock.shift(EPISODE_QUIET_PERIOD / 2)
        outage_client.get("/simple/sample-pkg/")
        assert len(outage_lines(caplog)) == 1
        clock.shift(EPISODE_QUIET_PERIOD + 1)
        outage_client.get("/simple/sample-pkg/")

    assert [line.dependency for line in outage_lines(caplog)] == ["database", "database"]


@pytest.mark.parametrize(
    "send", [REQUESTS["login"], REQUESTS["upload (twine)"], REQUESTS["upload (uv)"], mint_token]
)
def test_requests_answer_503_while_the_cache_is_down(
    private_redis, outage_client, token, send, caplog
):
    private_redis.stop()

    with caplog.at_level(logging.INFO):
        response = send(outage_client, token)
        send(outage_client, token)

    assert_outage_answer(response, Dependency.CACHE)
    (line,) = outage_lines(caplog)
    assert line.dependency == "cache"


def test_login_fails_closed_while_the_rate_limit_store_is_down(
    private_redis, outage_client, token, settings
):
    user_password = "correct horse battery staple"
    TwoFactorUserFactory(username="maintainer", password=user_password)
    private_redis.stop()

    response = outage_client.post(
        "/account/login/",
        {"username": "maintainer", "password": user_password},
        HTTP_ACCEPT=BROWSER_ACCEPT,
    )

    # Even the right password goes no further while the attempts cannot be counted.
    assert_outage_answer(response, Dependency.CACHE)
    assert settings.SESSION_COOKIE_NAME not in response.cookies


def test_an_outage_raised_by_middleware_answers_503(private_redis, outage_client, settings):
    # The cache outage meets the site in a middleware, outside any view.
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.index_site.cache_middleware.ReadsCache"]
    private_redis.stop()

    response = outage_client.get("/", HTTP_ACCEPT="application/json")

    assert_outage_answer(response, Dependency.CACHE)


@pytest.mark.parametrize("accept", ["*/*", UV_ACCEPT])
def test_upload_answers_503_while_the_storage_is_down(
    storage_gone, outage_client, token, accept, settings
):
    storage_gone()

    response = upload(outage_client, token, accept=accept)

    assert_outage_answer(response, Dependency.STORAGE)
    assert outage_client.get("/simple/sample-pkg/").status_code == 404


@pytest.mark.parametrize("accept", ["*/*", UV_ACCEPT])
def test_upload_answers_503_while_the_object_storage_is_unreachable(
    s3_unreachable, outage_client, token, accept
):
    response = upload(outage_client, token, accept=accept)

    assert_outage_answer(response, Dependency.STORAGE)
    assert not File.objects.exists()


def test_download_answers_503_while_the_storage_is_down(storage_gone, outage_client, token):
    assert upload(outage_client, token).status_code == 200
    path = File.objects.get().path
    storage_gone()

    response = outage_client.get(f"/files/{path}", HTTP_ACCEPT=BROWSER_ACCEPT)

    assert_outage_answer(response, Dependency.STORAGE)


def test_a_missing_object_is_not_an_outage(outage_client, token, settings):
    assert upload(outage_client, token).status_code == 200
    path = File.objects.get().path
    (Path(settings.MEDIA_ROOT) / path).unlink()

    assert outage_client.get(f"/files/{path}").status_code == 404


def _raise(error: Exception) -> Exception:
    try:
        raise error
    except Exception as raised:  # noqa: BLE001 - the test wants the raised error back
        return raised


@pytest.mark.parametrize(
    "error",
    [OSError("network unreachable"), ConnectionRefusedError("SMTP"), DatabaseError("syntax")],
)
def test_other_failures_are_not_outages(error):
    # An OSError outside a storage backend is some other fault (an HTTP outage_client, SMTP), and a
    # database error other than a lost connection is a bug: both stay the 500 they are.
    assert outage_of(_raise(error)) is None


def test_redis_outage_keeps_working_once_redis_is_back(private_redis, outage_client, token):
    private_redis.stop()
    assert login(outage_client).status_code == 503

    private_redis.start()

    assert login(outage_client).status_code == 200

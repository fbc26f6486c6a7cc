"""Every log line is one JSON object: user-supplied text cannot start a line or colour a terminal.

A sentinel holding line breaks, a forged JSON object, ANSI escapes and bidi controls is sent in
the path, query string, headers, form fields and JSON body of every URL the site serves; what the
site's own configured handler writes must parse as JSON line by line, with the sentinel only ever
inside string values.
"""

import io
import json
import logging
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings

from index_site.log_format import json_formatter
from tests.e2e.conftest import free_port
from tests.factories import TwoFactorUserFactory
from tests.publishing.upload.conftest import basic_auth
from tests.publishing.upload.dists import make_wheel, multipart_body
from tests.url_walk import walk_urls
from tokens.services import create_api_token

SENTINEL = 'X\n{"level":"forged"}\r\n\x1b[31mRED\x1b[0m\u202eevil\u2066'
RAW_CONTROLS = ("\r", "\x1b", "\u202e", "\u2066")
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def site_log():
    """What the site's configured JSON handler writes, captured from the root logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)


def parsed_lines(output: str) -> list[dict]:
    lines = output.splitlines()
    assert lines, "nothing was logged"
    for line in lines:
        for control in RAW_CONTROLS:
            assert control not in line
    return [json.loads(line) for line in lines]


def string_values(value):
    if isinstance(value, dict):
        for key, item in value.items():
            assert SENTINEL not in key
            yield from string_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from string_values(item)
    elif isinstance(value, str):
        yield value


@pytest.mark.django_db
def test_the_sentinel_sent_everywhere_stays_inside_json_string_values(client, site_log, user):
    headers = {"HTTP_USER_AGENT": SENTINEL, "HTTP_X_REQUEST_ID": SENTINEL}
    form = {"username": SENTINEL, "password": SENTINEL, "name": SENTINEL, "next": SENTINEL}
    for url in walk_urls():
        path = f"{url.path}?q={quote(SENTINEL)}"
        client.get(path, **headers)
        client.post(path, form, **headers)
        client.post(path, json.dumps({"token": SENTINEL}), "application/json", **headers)
    client.get("/no-such-page/" + quote(SENTINEL), **headers)
    client.force_login(user)
    for url in walk_urls():
        client.post(url.path, form, **headers)
    _row, raw = create_api_token(user=user, name="ci", actor=user)
    wheel = make_wheel()
    body, content_type = multipart_body(
        wheel.form(summary=SENTINEL, name=SENTINEL),
        filename=SENTINEL,
        content=wheel.content,
        content_type="application/octet-stream",
    )
    client.generic(
        "POST",
        "/legacy/",
        body,
        content_type=content_type,
        HTTP_AUTHORIZATION=basic_auth(raw),
        **headers,
    )

    lines = parsed_lines(site_log.getvalue())

    # User text reached the log (a 404 names its path), and only inside string values.
    assert any('{"level":"forged"}' in value for line in lines for value in string_values(line))
    for line in lines:
        assert line["level"] != "forged"
        assert {"timestamp", "level", "logger", "event", "request_id", "client_ip"} <= set(line)
        assert line["request_id"] != SENTINEL


def test_a_request_id_is_bound_to_the_lines_of_its_request(client, site_log, db):
    response = client.get("/no-such-page/", HTTP_X_REQUEST_ID="proxy-id-0123")
    refused = client.get("/no-such-page/", HTTP_X_REQUEST_ID="not an id\n")

    assert response["X-Request-ID"] == "proxy-id-0123"
    assert refused["X-Request-ID"] not in ("not an id\n", "")
    ids = [line["request_id"] for line in parsed_lines(site_log.getvalue())]
    assert ids == ["proxy-id-0123", refused["X-Request-ID"]]


@pytest.fixture
def user(db):
    return TwoFactorUserFactory(username="logger")


def test_gunicorn_access_log_is_json_without_the_query_string(tmp_path):
    port = free_port()
    env = {
        "PATH": str(Path(sys.executable).parent),
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "CACHE_URL": "locmemcache://",
    }
    (tmp_path / "staticfiles").mkdir()
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "index_site.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}/help/?password=hunter2-secret&token=pypi-secret"
        for _ in range(200):
            try:
                request = urllib.request.Request(url, headers={"User-Agent": "log-test/1.0"})
                with urllib.request.urlopen(request, timeout=5):  # noqa: S310 - own loopback server
                    break
            except OSError:
                time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=30)
    output = log_path.read_text()

    assert "secret" not in output
    lines = parsed_lines(output)
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    assert access, output
    assert access[0]["path"] == "/help/"
    assert access[0]["method"] == "GET"
    assert access[0]["status"] == 200
    assert access[0]["request_id"]

"""Production settings: `check --deploy` is clean, cookies are locked down, headers are strict.

Settings are read from the environment once, at start, so the production values are checked in
a subprocess started with a production environment, as a real deployment would start.
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

REPO = Path(__file__).resolve().parent.parent
# Only what any process needs is inherited: the test run's own variables (and anything a test
# module put in os.environ) must not leak into the production settings under test.
INHERITED_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")


def production_environment(tmp_path: Path, **overrides: str) -> dict[str, str]:
    environment = {k: os.environ[k] for k in INHERITED_VARIABLES if k in os.environ}
    environment.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        SITE_URL="https://index.example.com",
        TOKEN_SECRETS=f"1={secrets.token_urlsafe(32)}",
        FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        DATA_DIR=str(tmp_path),
    )
    environment.update(overrides)
    return environment


def run_manage(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_with_production_values(tmp_path):
    result = run_manage(
        production_environment(tmp_path), "check", "--deploy", "--fail-level", "WARNING"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_reports_a_weak_secret_key(tmp_path):
    environment = production_environment(tmp_path, SECRET_KEY="short")
    result = run_manage(environment, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    environment = production_environment(tmp_path, SECRET_KEY="")
    result = run_manage(environment, "check")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


COOKIE_SETTINGS = (
    "SESSION_COOKIE_NAME",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "SESSION_COOKIE_DOMAIN",
    "SESSION_COOKIE_PATH",
    "CSRF_COOKIE_NAME",
    "CSRF_COOKIE_SECURE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "DEBUG",
)


def _production_settings(
    tmp_path: Path, names: tuple[str, ...] = COOKIE_SETTINGS, **overrides: str
) -> dict:
    script = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps({{name: getattr(s, name) for name in {list(names)!r}}}))"
    )
    environment = production_environment(
        tmp_path, DJANGO_SETTINGS_MODULE="index_site.settings", **overrides
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_https_site_locks_down_its_cookies(tmp_path):
    values = _production_settings(tmp_path)
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_NAME"] == "__Host-sessionid"
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_HTTPONLY"] is True
    assert values["SESSION_COOKIE_SAMESITE"] == "Lax"
    # The __Host- prefix is honoured by browsers only with Secure, Path=/ and no Domain.
    assert values["SESSION_COOKIE_DOMAIN"] is None
    assert values["SESSION_COOKIE_PATH"] == "/"
    assert values["CSRF_COOKIE_NAME"] == "__Host-csrftoken"
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31536000


@pytest.mark.django_db
def test_session_cookie_sent_with_production_attributes(settings, tmp_path):
    for name, value in _production_settings(tmp_path).items():
        if name.startswith("SESSION_COOKIE"):
            setattr(settings, name, value)

    def view(request: HttpRequest) -> HttpResponse:
        request.session["seen"] = True
        return HttpResponse("ok")

    response = SessionMiddleware(view)(RequestFactory().get("/", secure=True))
    cookie = response.cookies["__Host-sessionid"]
    assert cookie["secure"] is True
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert not cookie["domain"]


@pytest.mark.parametrize(("variable", "prepared"), [(None, True), ("false", False)])
def test_postgresql_prepares_repeated_statements_unless_turned_off(tmp_path, variable, prepared):
    overrides = {"DATABASE_URL": "postgres://gatehouse@db.example.com:5432/gatehouse"}
    if variable is not None:
        overrides["DATABASE_PREPARED_STATEMENTS"] = variable

    options = _production_settings(tmp_path, ("DATABASES",), **overrides)["DATABASES"]["default"][
        "OPTIONS"
    ]

    if prepared:
        assert options["server_side_binding"] is True
        assert options["prepare_threshold"] == 5
    else:
        assert "server_side_binding" not in options
        assert "prepare_threshold" not in options

"""docker-compose, the Dockerfile and the Procfile agree with the settings and with each other."""

import re
from pathlib import Path

from gunicorn.app.base import Application
from gunicorn.config import Config

from tests.test_readme import settings_environment_variables

REPO = Path(__file__).resolve().parent.parent
COMPOSE = (REPO / "docker-compose.yml").read_text()


def _compose_app_environment() -> set[str]:
    """Variable names in the `environment:` block of the shared `x-app` service definition."""
    block = COMPOSE.split("x-app: &app", 1)[1].split("  environment:\n", 1)[1]
    names = set()
    for line in block.splitlines():
        if line.lstrip().startswith("#"):
            continue
        match = re.match(r"^    ([A-Z][A-Z0-9_]*):", line)
        if not match:
            break
        names.add(match[1])
    return names


def test_compose_sets_only_variables_the_settings_read():
    names = _compose_app_environment()
    assert {"SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "EMAIL_URL"} <= names
    assert names - settings_environment_variables() == set()


def test_compose_runs_every_process_and_service():
    services = set(re.findall(r"^  ([a-z]+):$", COMPOSE.split("\nservices:\n", 1)[1], re.M))
    assert {"web", "worker", "beat", "migrate", "postgres", "redis", "mailpit", "proxy"} <= services
    assert "files:/data" in COMPOSE


def test_the_compose_proxy_sends_the_downloads_web_hands_it():
    nginx = (REPO / "deploy" / "nginx.conf").read_text()
    proxy = COMPOSE.split("\n  proxy:\n", 1)[1].split("\n  mailpit:\n", 1)[0]
    assert "FILE_DOWNLOADS: ${FILE_DOWNLOADS:-x-accel-redirect}" in COMPOSE
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in proxy
    assert "files:/data:ro" in proxy
    # The internal location is the app's prefix, and aliases the volume's files directory.
    location = nginx.split("location /_protected-files/ {", 1)[1].split("}", 1)[0]
    assert "internal;" in location
    assert "alias /data/files/;" in location
    assert "proxy_pass http://gatehouse_web;" in nginx


def test_make_run_starts_web_worker_beat_and_the_announcement():
    processes = dict(
        line.split(":", 1) for line in (REPO / "Procfile").read_text().splitlines() if line
    )
    assert set(processes) == {"web", "worker", "beat", "ready"}
    assert "manage.py announce_site" in processes["ready"]
    assert "celery -A index_site worker" in processes["worker"]
    assert "celery -A index_site beat" in processes["beat"]


def test_image_runs_as_an_unprivileged_user():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert re.search(r"^USER gatehouse$", dockerfile, re.M)
    assert "collectstatic" in dockerfile


def test_health_checks_probe_readiness_in_compose_and_liveness_in_the_image():
    from django.urls import resolve  # noqa: PLC0415 - needs the settings pytest-django loads

    from index_site import api  # noqa: PLC0415

    web = COMPOSE.split("\n  web:\n", 1)[1].split("\n  worker:\n", 1)[0]
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "http://127.0.0.1:8000/_/health'" in web
    assert "http://127.0.0.1:8000/_/health/live'" in dockerfile.split("HEALTHCHECK", 1)[1]
    assert resolve("/_/health").func.cls is api.HealthView
    assert resolve("/_/health/live").func.cls is api.LivenessView
    # Services that serve no HTTP must not inherit the image's HTTP check.
    assert "healthcheck:\n    disable: true" in COMPOSE.split("\nservices:\n", 1)[0]


def test_gunicorn_limits_the_request_line_and_headers():
    # Loaded the way gunicorn loads it: a misspelt setting keeps its default and fails here, a
    # value out of range raises.
    loader = object.__new__(Application)  # never started: only its config-file loader is used
    loader.cfg = Config()
    loader.load_config_from_file(str(REPO / "gunicorn.conf.py"))

    assert loader.cfg.limit_request_line == 4094
    assert loader.cfg.limit_request_fields == 100
    assert loader.cfg.limit_request_field_size == 8190

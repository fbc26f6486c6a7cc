"""`/_/health` reports each dependency and answers 503 when one the web process needs is down;
`/_/health/live` answers while the process runs, whatever is down.

The outages are real: a proxy cut in front of the database, a private Redis stopped, a storage
mount gone, a broker nothing listens for.
"""

import logging

import pytest

from tests.e2e.conftest import free_port

pytestmark = pytest.mark.services

DEPENDENCIES = {"database", "cache", "storage", "broker"}


def dependency_statuses(response) -> dict[str, str]:
    return {name: report["status"] for name, report in response.json()["dependencies"].items()}


def test_health_reports_every_dependency_ok(client, db):
    response = client.get("/_/health")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert dependency_statuses(response) == dict.fromkeys(DEPENDENCIES, "ok")
    assert {name for name, report in response.json()["dependencies"].items()
            if report["required"]} == {"database", "cache", "storage"}  # fmt: skip
    assert "no-cache" in response["Cache-Control"]


def test_health_answers_503_while_the_database_is_down(database, client):
    database.cut()

    response = client.get("/_/health")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["dependencies"]["database"] == {
        "status": "unavailable",
        "error": "OperationalError",
        "required": True,
    }
    assert dependency_statuses(response)["cache"] == "ok"


def test_health_answers_503_while_the_cache_is_down(private_redis, client, db):
    private_redis.stop()

    response = client.get("/_/health")

    assert response.status_code == 503
    assert dependency_statuses(response) == {
        "database": "ok",
        "cache": "unavailable",
        "storage": "ok",
        "broker": "ok",
    }


def test_health_answers_503_while_the_storage_is_down(storage_gone, client, db):
    storage_gone()

    response = client.get("/_/health")

    assert response.status_code == 503
    assert dependency_statuses(response)["storage"] == "unavailable"


def test_health_answers_503_while_the_object_storage_is_unreachable(s3_unreachable, client, db):
    response = client.get("/_/health")

    assert response.status_code == 503
    assert response.json()["dependencies"]["storage"] == {
        "status": "unavailable",
        "error": "EndpointConnectionError",
        "required": True,
    }


def test_health_counts_a_storage_nothing_was_stored_in_yet_as_ok(client, db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "not-created-yet"
    assert client.get("/_/health").status_code == 200


def test_broker_down_is_reported_but_keeps_the_web_healthy(client, db, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}

    response = client.get("/_/health")

    # The outbox keeps every email in the database until the broker is back.
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["dependencies"]["broker"]["status"] == "unavailable"


def test_liveness_answers_while_the_database_and_the_cache_are_down(
    database, private_redis, client
):
    database.cut()
    private_redis.stop()

    response = client.get("/_/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_polling_during_an_outage_logs_its_start_and_its_end_once(
    private_redis, client, db, caplog
):
    with caplog.at_level(logging.INFO, logger="index_site.outages"):
        private_redis.stop()
        for _ in range(3):
            assert client.get("/_/health").status_code == 503
        private_redis.start()
        for _ in range(3):
            assert client.get("/_/health").status_code == 200
        private_redis.stop()
        assert client.get("/_/health").status_code == 503

    lines = [
        (record.levelname, record.getMessage(), record.dependency)
        for record in caplog.records
        if record.name == "index_site.outages"
    ]
    assert lines == [
        ("WARNING", "Dependency unavailable", "cache"),
        ("INFO", "Dependency available again", "cache"),
        ("WARNING", "Dependency unavailable", "cache"),
    ]

"""A persistent database connection cut between requests: nobody sees it.

The install path skips Django's per-request `SELECT 1` check; a GET that then meets the dead
connection runs again on a fresh one. A POST keeps the check, so it never runs twice. Made the
way it happens: this thread's PostgreSQL backend (the one the next request reuses, as a web
worker does under CONN_MAX_AGE) is terminated from a second connection between two requests.
"""

import json

import pytest
from django.db import connections

from tests.database_backends import terminate_request_backend
from tests.factories import ProjectFactory, UserFactory

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgresql_connections_cut"),
]

JSON_V1 = "application/vnd.pypi.simple.v1+json"


@pytest.fixture
def project(db):
    return ProjectFactory(name="spam", normalized_name="spam")


def _cut_between_requests(client, path="/simple/spam/"):
    assert client.get(path, HTTP_ACCEPT=JSON_V1).status_code == 200
    dead = terminate_request_backend()
    # What request_started does in a worker (the test client leaves it out): the next request
    # would check the connection before its first query.
    connections["default"].close_if_unusable_or_obsolete()
    return dead


def test_a_get_on_a_cut_connection_is_answered_from_a_fresh_one(client, project):
    dead = _cut_between_requests(client)
    response = client.get("/simple/spam/", HTTP_ACCEPT=JSON_V1)
    assert response.status_code == 200
    assert json.loads(response.content)["name"] == "spam"
    # It met the dead connection, so no check ran before its query: it ran again instead.
    assert response.wsgi_request.connection_replaced
    assert connections["default"].connection.info.backend_pid != dead


@pytest.mark.parametrize(
    ("path", "status"), [("/simple/", 200), ("/project/spam/", 200), ("/files/aa/no.whl", 404)]
)
def test_every_page_that_changes_nothing_rides_out_the_cut(client, project, path, status):
    _cut_between_requests(client)
    response = client.get(path)
    assert response.status_code == status
    assert response.wsgi_request.connection_replaced


def test_a_database_that_is_down_fails_the_retry_too_and_answers_503(client, project):
    _cut_between_requests(client)
    config = connections["default"].settings_dict
    port, config["PORT"] = config["PORT"], "1"  # nothing listens: the fresh connection fails
    try:
        response = client.get("/simple/spam/", HTTP_ACCEPT=JSON_V1)
    finally:
        config["PORT"] = port
    assert response.status_code == 503
    assert response["Retry-After"]


def test_a_post_checks_the_connection_first_and_runs_once(client, project):
    UserFactory(username="alice", password="a-long-password-not-secret")
    _cut_between_requests(client, "/simple/")
    response = client.post(
        "/account/login/", {"username": "alice", "password": "a-long-password-not-secret"}
    )
    assert response.status_code == 302
    # Checked before its first query, not run twice.
    assert not hasattr(response.wsgi_request, "connection_replaced")

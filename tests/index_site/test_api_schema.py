"""The OpenAPI schema at /_/api/schema/ and the JSON endpoints, checked against each other.

Schemathesis generates requests from the schema (bodies, headers, valid and invalid) for every
operation and sends them through the WSGI application: no answer may be a 5xx, and every
answer must be one the schema documents (status, content type, body).
"""

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# Bounded: a few dozen requests per operation keep the whole run well under half a minute.
EXAMPLES_PER_OPERATION = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# Fetched through the application itself, as a client would: the schema the site serves.
schema = schemathesis.openapi.from_wsgi("/_/api/schema/", WSGIHandler())


@pytest.fixture
def transaction_kept_across_requests(db):
    """Keep the test's transaction open between requests, as Django's test client does.

    The application closes a connection at the end of a request when it is inside a
    transaction it did not open, which would end the test's transaction after one call.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.usefixtures("transaction_kept_across_requests")
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_json_endpoint_answers_as_its_schema_says(case):
    # The client address every WSGI server passes (the rate limits count by it).
    case.call_and_validate(checks=CHECKS, environ_base={"REMOTE_ADDR": "127.0.0.1"})

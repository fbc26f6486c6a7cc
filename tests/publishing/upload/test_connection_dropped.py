"""An upload whose database connection dies while its body streams in is still published.

The token is checked on one connection before the body is read; a large body then takes a
minute to arrive, and a failover, a proxy's idle timeout or a restarted server can cut that
connection meanwhile. Made here the way it happens: the request's own PostgreSQL backend is
terminated from a second connection once the body starts streaming, after the token check and
before the write transaction.
"""

import io

import pytest
from django.db import connections

from projects.models import File
from tests.database_backends import terminate_request_backend
from tests.publishing.upload.conftest import USER_AGENT, basic_auth
from tests.publishing.upload.dists import make_wheel, multipart_body

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


class BodyCutting(io.BytesIO):
    """The request body as the client streams it; the first read (by the multipart parser,
    after the token was checked) terminates the request's database backend."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.terminated: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        if not self.terminated:
            self.terminated.append(terminate_request_backend())
        return super().read(size)


@pytest.fixture(autouse=True)
def _postgresql():
    if connections["default"].vendor != "postgresql":
        pytest.skip("Needs PostgreSQL (DATABASE_URL).")


def _post(client, token, wheel, *, stream: type[io.BytesIO] = io.BytesIO):
    body, content_type = multipart_body(
        wheel.form(),
        filename=wheel.filename,
        content=wheel.content,
        content_type="application/octet-stream",
    )
    response = client.generic(
        "POST",
        "/legacy/",
        body,
        content_type=content_type,
        HTTP_AUTHORIZATION=basic_auth(token),
        HTTP_USER_AGENT=USER_AGENT,
        **{"wsgi.input": (sent := stream(body))},
    )
    return response, sent


def test_upload_survives_its_connection_dropped_while_the_body_streamed(client, token):
    wheel = make_wheel()

    response, stream = _post(client, token, wheel, stream=BodyCutting)

    assert stream.terminated, "The body was never read."
    assert response.status_code == 200, response.content
    file = File.objects.get()
    assert file.filename == wheel.filename
    download = client.get(f"/files/{file.path}")
    assert b"".join(download.streaming_content) == wheel.content
    download.close()


def test_upload_on_a_connection_cut_between_requests_reads_its_token_again(client, token):
    assert _post(client, token, make_wheel(version="1.0"))[0].status_code == 200
    dead = terminate_request_backend()
    # What request_started does in a worker (the test client leaves it out): a check of the
    # connection would be due before the next request's first query; the upload makes none.
    connections["default"].close_if_unusable_or_obsolete()

    response, _stream = _post(client, token, make_wheel(version="2.0"))

    assert response.status_code == 200, response.content
    assert connections["default"].connection.info.backend_pid != dead
    assert sorted(File.objects.values_list("release__version", flat=True)) == ["1.0", "2.0"]

"""A body the upload will never accept is not read: the answer comes before the body.

The body is a stream that counts what the server took from it and could go on for as long as
it declares (gigabytes): only the answer and that count are checked.
"""

import pytest
from django.test import Client
from django.test.client import FakePayload

from tests.publishing.upload.conftest import basic_auth, refusal
from tests.publishing.upload.dists import make_wheel, multipart_body

pytestmark = pytest.mark.django_db
HUGE = 50 * 1024**3  # declared, never sent


class CountingPayload(FakePayload):
    """A body of `declared` bytes (of which only `head` exist) that counts what is read."""

    def __init__(self, head: bytes) -> None:
        super().__init__(head)
        self.taken = 0

    def read(self, size: int = -1, /) -> bytes:
        chunk = super().read(size)
        self.taken += len(chunk)
        return chunk


def _post(client: Client, *, head: bytes, content_type: str, auth: str) -> tuple:
    payload = CountingPayload(head)
    response = client.generic(
        "POST",
        "/legacy/",
        CONTENT_TYPE=content_type,
        CONTENT_LENGTH=str(HUGE),
        HTTP_AUTHORIZATION=auth,
        **{"wsgi.input": payload},
    )
    return response, payload.taken


@pytest.mark.parametrize(
    "content_type",
    ["application/octet-stream", "application/x-www-form-urlencoded", "text/plain", ""],
)
def test_a_huge_body_that_is_not_multipart_is_refused_before_it_is_read(
    client, token, content_type
):
    response, taken = _post(
        client, head=b"x" * 4096, content_type=content_type, auth=basic_auth(token)
    )

    assert response.status_code == 400
    assert refusal(response) == (
        "The upload must be sent as multipart/form-data with ':action=file_upload', as twine "
        "and uv do."
    )
    assert taken == 0


def test_a_huge_multipart_body_with_a_bad_token_is_refused_before_it_is_read(client):
    wheel = make_wheel()
    body, content_type = multipart_body(
        wheel.form(), filename=wheel.filename, content=wheel.content, content_type=None
    )

    response, taken = _post(
        client, head=body, content_type=content_type, auth=basic_auth("pypi-not-a-token")
    )

    assert response.status_code == 403
    assert taken == 0


def test_a_huge_multipart_body_is_refused_as_too_large_before_it_is_read(client, token):
    wheel = make_wheel()
    body, content_type = multipart_body(
        wheel.form(), filename=wheel.filename, content=wheel.content, content_type=None
    )

    response, taken = _post(client, head=body, content_type=content_type, auth=basic_auth(token))

    assert response.status_code == 400
    assert refusal(response).startswith("File too large. No project here accepts files over")
    assert taken == 0


def test_a_small_refused_body_is_still_read_to_its_end_so_the_client_sees_the_answer(client, token):
    payload = CountingPayload(b"x" * 5000)
    response = client.generic(
        "POST",
        "/legacy/",
        CONTENT_TYPE="multipart/form-data; boundary=nothing-here",
        CONTENT_LENGTH="5000",
        HTTP_AUTHORIZATION=basic_auth("pypi-not-a-token"),
        **{"wsgi.input": payload},
    )

    assert response.status_code == 403
    assert payload.taken == 5000

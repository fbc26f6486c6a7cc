"""A token revoked while its upload's body streams publishes nothing.

The token is checked before the body is read, and a large body can take minutes; the upload
checks it again inside its write transaction. Here the revocation happens for real (through
the services a person or CI would use) half-way through the body, read from a stream that runs
it then.
"""

from collections.abc import Callable

import pytest
from django.core.files.storage import default_storage
from django.test.client import FakePayload

from projects.models import File, Release
from publishing.models import TrustedPublisher
from publishing.services import burn_publisher_token
from publishing.upload.access import REVOKED_DURING_UPLOAD_MESSAGE
from tests.factories import ProjectFactory
from tests.publishing.upload.conftest import USER_AGENT, basic_auth, refusal
from tests.publishing.upload.dists import Dist, make_wheel, multipart_body
from tests.publishing.upload.test_trusted_publisher_uploads import CONFIG
from tokens.models import ApiToken
from tokens.services import create_api_token, create_publisher_token, revoke_api_token

pytestmark = pytest.mark.django_db


class ActingPayload(FakePayload):
    """A request body that runs `action` once, when the reader has taken half of it."""

    def __init__(self, content: bytes, action: Callable[[], None]) -> None:
        super().__init__(content)
        self.halfway = len(content) // 2
        self.taken = 0
        self.action: Callable[[], None] | None = action

    def read(self, size: int = -1, /) -> bytes:
        chunk = super().read(size)
        self.taken += len(chunk)
        if self.action is not None and self.taken >= self.halfway:
            action, self.action = self.action, None
            action()
        return chunk


def _upload_while(client, dist: Dist, raw_token: str, action: Callable[[], None]):
    body, content_type = multipart_body(
        dist.form(), filename=dist.filename, content=dist.content, content_type=None
    )
    return client.generic(
        "POST",
        "/legacy/",
        CONTENT_TYPE=content_type,
        HTTP_AUTHORIZATION=basic_auth(raw_token),
        HTTP_USER_AGENT=USER_AGENT,
        CONTENT_LENGTH=str(len(body)),
        **{"wsgi.input": ActingPayload(body, action)},
    )


def _nothing_published() -> bool:
    return not File.objects.exists() and not Release.objects.exists()


def _stored_objects() -> list[str]:
    try:
        return default_storage.listdir("")[1]
    except FileNotFoundError:
        return []


def test_a_user_token_revoked_while_the_body_streams_publishes_nothing(client, uploader):
    token, raw = create_api_token(user=uploader, name="ci", actor=uploader)
    wheel = make_wheel(payload=b"x" * 200_000)

    response = _upload_while(
        client,
        wheel,
        raw,
        lambda: revoke_api_token(token=token, actor=uploader, reason="leaked"),
    )

    assert response.status_code == 403
    assert refusal(response) == REVOKED_DURING_UPLOAD_MESSAGE
    assert _nothing_published()
    assert _stored_objects() == []


def test_a_token_revoked_while_a_first_upload_streams_creates_no_project(client, uploader):
    token, raw = create_api_token(user=uploader, name="ci", actor=uploader)

    response = _upload_while(
        client,
        make_wheel(name="brand-new-pkg"),
        raw,
        lambda: revoke_api_token(token=token, actor=uploader, reason="leaked"),
    )

    assert refusal(response) == REVOKED_DURING_UPLOAD_MESSAGE
    assert not uploader.project_roles.exists()


@pytest.fixture
def publisher() -> TrustedPublisher:
    publisher = TrustedPublisher(**CONFIG)
    publisher.save()
    publisher.projects.add(ProjectFactory(name="sample-pkg", normalized_name="sample-pkg"))
    return publisher


def _publisher_token(publisher: TrustedPublisher) -> str:
    _row, raw = create_publisher_token(
        publisher_id=publisher.pk, project_ids=list(publisher.projects.values_list("pk", flat=True))
    )
    return raw


def test_a_publisher_token_burned_while_the_body_streams_publishes_nothing(client, publisher):
    raw = _publisher_token(publisher)

    response = _upload_while(
        client, make_wheel(), raw, lambda: burn_publisher_token(raw_token=raw, request=None)
    )

    assert refusal(response) == REVOKED_DURING_UPLOAD_MESSAGE
    assert not ApiToken.objects.exists()
    assert _nothing_published()


def test_a_publisher_removed_from_the_project_while_the_body_streams_publishes_nothing(
    client, publisher
):
    raw = _publisher_token(publisher)
    project = publisher.projects.get()

    # As the admin's project list would: the attachment goes, the token itself stays.
    response = _upload_while(client, make_wheel(), raw, lambda: publisher.projects.remove(project))

    assert refusal(response) == (
        "Invalid API Token: trusted publishing token is not valid for project: 'sample-pkg'"
    )
    assert ApiToken.objects.exists()
    assert _nothing_published()


def test_a_token_left_alone_while_the_body_streams_publishes(client, uploader):
    _token, raw = create_api_token(user=uploader, name="ci", actor=uploader)

    response = _upload_while(client, make_wheel(), raw, lambda: None)

    assert response.status_code == 200, response.content
    assert File.objects.count() == 1

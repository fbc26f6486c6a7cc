import base64

import pytest

from tests.factories import TwoFactorUserFactory
from tests.publishing.upload.dists import Dist, multipart_body
from tokens.services import create_api_token

USER_AGENT = "twine/7.0.0 CPython/3.11.9"


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = None


@pytest.fixture
def uploader(db):
    return TwoFactorUserFactory(username="uploader")


@pytest.fixture
def token(uploader) -> str:
    _row, raw = create_api_token(user=uploader, name="ci upload", actor=uploader)
    return raw


def basic_auth(raw: str, username: str = "__token__") -> str:
    return "Basic " + base64.b64encode(f"{username}:{raw}".encode()).decode()


@pytest.fixture
def upload(client, token):
    """POST a Dist to /legacy/ the way twine does; keyword overrides change the form fields."""

    def post(
        dist: Dist,
        *,
        auth: str | None = None,
        path: str = "/legacy/",
        accept: str = "*/*",
        filename: str | None = None,
        content: bytes | None = None,
        content_type: str | None = "application/octet-stream",
        fields: dict | None = None,
        secure: bool = False,
        **overrides,
    ):
        form = fields if fields is not None else dist.form(**overrides)
        body, multipart_type = multipart_body(
            form,
            filename=filename if filename is not None else dist.filename,
            content=content if content is not None else dist.content,
            content_type=content_type,
        )
        return client.generic(
            "POST",
            path,
            body,
            content_type=multipart_type,
            secure=secure,
            HTTP_AUTHORIZATION=auth if auth is not None else basic_auth(token),
            HTTP_ACCEPT=accept,
            HTTP_USER_AGENT=USER_AGENT,
        )

    return post


def refusal(response) -> str:
    """The message of a refused upload, after checking reason phrase and body agree."""
    assert response.status_code >= 400, response.content
    body = response.content.decode().strip()
    assert response.reason_phrase == " ".join(body.split())
    return body

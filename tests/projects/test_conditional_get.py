"""Conditional GET: simple pages and files answer If-None-Match the same way (one helper)."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from projects.models import DownloadCount
from tests.factories import FileFactory, ProjectFactory, ReleaseFactory

JSON_V1 = "application/vnd.pypi.simple.v1+json"
PAGE = "/simple/sample-project/"


@pytest.fixture(autouse=True)
def _memory_storage(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }


@pytest.fixture
def wheel(db):
    project = ProjectFactory(name="Sample_Project", normalized_name="sample-project")
    file = FileFactory(
        release=ReleaseFactory(project=project, version="1.0"),
        filename="sample_project-1.0-py3-none-any.whl",
    )
    default_storage.save(file.path, ContentFile(b"wheel bytes"))
    return file


def test_simple_page_answers_304_to_its_weak_etag(client, wheel):
    etag = client.get(PAGE, HTTP_ACCEPT=JSON_V1)["ETag"]

    response = client.get(PAGE, HTTP_ACCEPT=JSON_V1, HTTP_IF_NONE_MATCH=f"W/{etag}")

    assert response.status_code == 304
    assert response["ETag"] == etag
    assert response["Cache-Control"] == "max-age=0, must-revalidate"
    assert "Accept" in response["Vary"]


def test_simple_page_answers_304_when_its_etag_is_among_several(client, wheel):
    etag = client.get(PAGE, HTTP_ACCEPT=JSON_V1)["ETag"]

    response = client.get(PAGE, HTTP_ACCEPT=JSON_V1, HTTP_IF_NONE_MATCH=f'"stale", {etag}')

    assert response.status_code == 304


def test_simple_page_with_a_stale_etag_is_sent_again(client, wheel):
    response = client.get(PAGE, HTTP_ACCEPT=JSON_V1, HTTP_IF_NONE_MATCH='"stale"')

    assert response.status_code == 200
    assert wheel.filename in response.content.decode()


def test_file_answers_304_to_a_wildcard_and_is_not_counted(client, wheel):
    response = client.get(f"/files/{wheel.path}", HTTP_IF_NONE_MATCH="*")

    assert response.status_code == 304
    assert response["ETag"] == f'"{wheel.sha256_digest}"'
    assert "immutable" in response["Cache-Control"]
    assert not DownloadCount.objects.exists()


def test_file_with_a_stale_etag_is_sent_and_counted(client, wheel):
    response = client.get(f"/files/{wheel.path}", HTTP_IF_NONE_MATCH='"stale"')

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"wheel bytes"
    assert DownloadCount.objects.get().count == 1

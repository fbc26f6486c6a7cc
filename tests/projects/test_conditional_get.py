"""Conditional GET: simple pages and files answer If-None-Match the same way (one helper)."""

import pytest

from projects.models import DownloadCount

pytestmark = pytest.mark.usefixtures("memory_storage")
JSON_V1 = "application/vnd.pypi.simple.v1+json"
PAGE = "/simple/sample-project/"


def test_simple_page_answers_304_to_its_weak_etag(client, stored_wheel):
    etag = client.get(PAGE, HTTP_ACCEPT=JSON_V1)["ETag"]

    response = client.get(PAGE, HTTP_ACCEPT=JSON_V1, HTTP_IF_NONE_MATCH=f"W/{etag}")

    assert response.status_code == 304
    assert response["ETag"] == etag
    assert response["Cache-Control"] == "max-age=0, must-revalidate"
    assert "Accept" in response["Vary"]


def test_simple_page_answers_304_when_its_etag_is_among_several(client, stored_wheel):
    etag = client.get(PAGE, HTTP_ACCEPT=JSON_V1)["ETag"]

    response = client.get(PAGE, HTTP_ACCEPT=JSON_V1, HTTP_IF_NONE_MATCH=f'"stale", {etag}')

    assert response.status_code == 304


def test_simple_page_with_a_stale_etag_is_sent_again(client, stored_wheel):
    response = client.get(PAGE, HTTP_ACCEPT=JSON_V1, HTTP_IF_NONE_MATCH='"stale"')

    assert response.status_code == 200
    assert stored_wheel.filename in response.content.decode()


def test_file_answers_304_to_a_wildcard_and_is_not_counted(client, stored_wheel):
    response = client.get(f"/files/{stored_wheel.path}", HTTP_IF_NONE_MATCH="*")

    assert response.status_code == 304
    assert response["ETag"] == f'"{stored_wheel.sha256_digest}"'
    assert "immutable" in response["Cache-Control"]
    assert not DownloadCount.objects.exists()


def test_file_with_a_stale_etag_is_sent_and_counted(client, stored_wheel):
    response = client.get(f"/files/{stored_wheel.path}", HTTP_IF_NONE_MATCH='"stale"')

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"wheel bytes"
    assert DownloadCount.objects.get().count == 1

"""FILE_DOWNLOADS: the file streamed by the app, handed to the front proxy, or redirected to a
CDN or a presigned S3 URL; every mode checks the path against the File rows and counts it."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from projects.models import DownloadCount

pytestmark = pytest.mark.usefixtures("memory_storage")


def downloads() -> int:
    return sum(DownloadCount.objects.values_list("count", flat=True))


def test_the_app_streams_the_file_by_default(client, stored_wheel):
    response = client.get(f"/files/{stored_wheel.path}")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"wheel bytes"
    assert downloads() == 1


def test_x_accel_redirect_hands_the_file_to_the_proxy_after_checking_and_counting(
    client, stored_wheel, settings
):
    settings.FILE_DOWNLOADS = "x-accel-redirect"

    response = client.get(f"/files/{stored_wheel.path}")

    assert response.status_code == 200
    assert response.content == b""
    assert response["X-Accel-Redirect"] == f"/_protected-files/{stored_wheel.path}"
    assert response["Content-Disposition"] == f'attachment; filename="{stored_wheel.filename}"'
    assert response["ETag"] == f'"{stored_wheel.sha256_digest}"'
    assert downloads() == 1
    assert client.get(f"/files/{stored_wheel.path}", HTTP_IF_NONE_MATCH="*").status_code == 304


def test_x_accel_redirect_never_names_a_path_no_file_row_has(client, stored_wheel, settings):
    settings.FILE_DOWNLOADS = "x-accel-redirect"

    response = client.get("/files/../../etc/passwd")

    assert response.status_code == 404
    assert not response.has_header("X-Accel-Redirect")


def test_redirect_to_a_cdn_keeps_the_path_and_counts(client, stored_wheel, settings):
    settings.FILE_DOWNLOADS = "redirect"
    settings.FILE_DOWNLOADS_BASE_URL = "https://cdn.example"

    response = client.get(f"/files/{stored_wheel.path}")

    assert response.status_code == 302
    assert response["Location"] == f"https://cdn.example/{stored_wheel.path}"
    assert downloads() == 1


def test_redirect_to_s3_is_a_short_lived_presigned_url(client, stored_wheel, settings):
    settings.FILE_DOWNLOADS = "redirect"
    settings.FILE_DOWNLOADS_BASE_URL = ""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "gatehouse",
                "endpoint_url": "http://127.0.0.1:9",
                "access_key": "test",
                "secret_key": "test-secret",
                "querystring_expire": 300,
            },
        },
    }

    response = client.get(f"/files/{stored_wheel.path}")

    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(f"http://127.0.0.1:9/gatehouse/{stored_wheel.path}?")
    query = parse_qs(urlsplit(location).query)
    assert query["Signature"]
    assert abs(int(query["Expires"][0]) - (time.time() + 300)) < 30
    assert response["Cache-Control"] == "private, no-store"
    assert downloads() == 1


def test_unknown_paths_are_404_in_every_mode(client, stored_wheel, settings):
    for mode in ("app", "x-accel-redirect", "redirect"):
        settings.FILE_DOWNLOADS = mode
        settings.FILE_DOWNLOADS_BASE_URL = "https://cdn.example"
        assert client.get("/files/aa/bb/other.whl").status_code == 404, mode

"""A reader of the cached simple page sees every upload as soon as the upload has answered."""

import json

import pytest

from tests.publishing.upload.dists import make_sdist, make_wheel

pytestmark = pytest.mark.django_db

JSON_V1 = "application/vnd.pypi.simple.v1+json"
PAGE = "/simple/sample-pkg/"
ACCEPTS = [JSON_V1, "application/vnd.pypi.simple.v1+html", "text/html"]


def test_reader_polling_between_uploads_never_sees_a_stale_page(client, upload):
    """Poll every format, plain and conditional, after each upload has returned."""
    dists = [
        make_wheel("sample-pkg", "1.0"),
        make_sdist("sample-pkg", "1.0"),
        make_wheel("sample-pkg", "1.1", tag="py3-none-any"),
        make_wheel("sample-pkg", "1.1", tag="py2.py3-none-any"),
    ]
    held_etags: dict[str, str] = {}
    for number, dist in enumerate(dists, start=1):
        assert upload(dist).status_code == 200
        for accept in ACCEPTS:
            # The client polls with the ETag it holds; it must not be told "not modified".
            headers = {"HTTP_ACCEPT": accept}
            if accept in held_etags:
                headers["HTTP_IF_NONE_MATCH"] = held_etags[accept]
            response = client.get(PAGE, **headers)

            assert response.status_code == 200
            body = response.content.decode()
            for published in dists[:number]:
                assert published.filename in body
            for unpublished in dists[number:]:
                assert unpublished.filename not in body
            held_etags[accept] = response["ETag"]
            assert (
                client.get(PAGE, HTTP_ACCEPT=accept, HTTP_IF_NONE_MATCH=response["ETag"])
            ).status_code == 304


def test_identical_reupload_keeps_the_etag(client, upload):
    """Nothing the index shows changed, so clients keep their copy."""
    wheel = make_wheel("sample-pkg", "1.0")
    upload(wheel)
    etag = client.get(PAGE, HTTP_ACCEPT=JSON_V1)["ETag"]

    assert upload(wheel).status_code == 200

    response = client.get(PAGE, HTTP_ACCEPT=JSON_V1, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304


def test_refused_upload_keeps_the_etag(client, upload):
    upload(make_wheel("sample-pkg", "1.0"))
    etag = client.get(PAGE, HTTP_ACCEPT=JSON_V1)["ETag"]

    # Same filename, other bytes: refused, and nothing the index shows changed.
    refused = upload(make_wheel("sample-pkg", "1.0", payload=b"VALUE = 2\n"))

    assert refused.status_code == 400
    response = client.get(PAGE, HTTP_ACCEPT=JSON_V1, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    page = client.get(PAGE, HTTP_ACCEPT=JSON_V1)
    assert [file["filename"] for file in json.loads(page.content)["files"]] == [
        "sample_pkg-1.0-py3-none-any.whl"
    ]

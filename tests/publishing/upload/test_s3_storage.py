"""Object storage for real: uploads, downloads (streamed and presigned), the storage check and
the orphan sweep against an S3 server (moto's, on loopback, started by the test)."""

import urllib.request
from datetime import timedelta

import boto3
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from moto.server import ThreadedMotoServer

from projects.models import File
from projects.services.files import check_storage, delete_orphaned_files, storage_path_for
from tests.publishing.upload.dists import make_wheel

pytestmark = pytest.mark.django_db
BUCKET = "gatehouse-files"


@pytest.fixture
def s3(settings):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    credentials = {"aws_access_key_id": "test", "aws_secret_access_key": "test-secret"}
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **credentials)
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": endpoint,
                "region_name": "us-east-1",
                "access_key": "test",
                "secret_key": "test-secret",
                "querystring_expire": 300,
            },
        },
    }
    yield client
    server.stop()


def stored_keys(client) -> set[str]:
    return {item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


def test_an_upload_lands_in_the_bucket_and_downloads_both_ways(s3, upload, client, settings):
    wheel = make_wheel()

    assert upload(wheel).status_code == 200

    file = File.objects.get()
    assert {file.path, file.path + ".metadata"} <= stored_keys(s3)
    streamed = client.get(f"/files/{file.path}")
    assert b"".join(streamed.streaming_content) == wheel.content
    settings.FILE_DOWNLOADS = "redirect"
    redirected = client.get(f"/files/{file.path}")
    assert redirected.status_code == 302
    with urllib.request.urlopen(redirected["Location"], timeout=10) as presigned:  # noqa: S310
        assert presigned.read() == wheel.content


def test_the_storage_check_and_the_orphan_sweep_work_on_the_bucket(s3, upload):
    assert upload(make_wheel()).status_code == 200
    orphan = storage_path_for(blake2_256_digest="ab" * 32, filename="orphan-1.0-py3-none-any.whl")
    default_storage.save(orphan, ContentFile(b"left behind"))

    report = check_storage(older_than=timedelta(0))

    assert report.missing_objects == []
    assert [unreferenced.path for unreferenced in report.unreferenced_objects] == [orphan]
    assert delete_orphaned_files(older_than=timedelta(0)) == 1
    assert orphan not in stored_keys(s3)
    file = File.objects.get()
    assert file.path in stored_keys(s3)


def test_a_row_whose_object_is_gone_from_the_bucket_is_reported(s3, upload):
    assert upload(make_wheel()).status_code == 200
    file = File.objects.get()
    s3.delete_object(Bucket=BUCKET, Key=file.path)

    assert check_storage().missing_objects == [file.path]

"""Rows and stored objects stay consistent: failures leave neither a visible file nor an orphan."""

import os
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from index_site.outages import MESSAGES, RETRY_AFTER_SECONDS, Dependency
from projects.models import File, FilenameRegistry, Project
from projects.services.files import delete_orphaned_files, storage_path_for
from publishing.tasks import sweep_orphaned_uploads
from tests.publishing.upload.conftest import refusal
from tests.publishing.upload.dists import make_wheel

pytestmark = pytest.mark.django_db


def stored_files(settings) -> list[Path]:
    media = Path(settings.MEDIA_ROOT)
    return [path for path in media.rglob("*") if path.is_file()] if media.exists() else []


def test_storage_failure_answers_503_and_leaves_no_rows_or_objects(upload, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "tests.publishing.upload.failing_storage.MetadataFailingStorage"},
    }

    response = upload(make_wheel())

    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert refusal(response) == MESSAGES[Dependency.STORAGE]
    assert not File.objects.exists()
    assert not FilenameRegistry.objects.exists()
    assert not Project.objects.exists()
    assert stored_files(settings) == []


def test_upload_after_a_storage_failure_succeeds(upload, settings):
    original = settings.STORAGES
    settings.STORAGES = {
        **original,
        "default": {"BACKEND": "tests.publishing.upload.failing_storage.MetadataFailingStorage"},
    }
    upload(make_wheel())
    settings.STORAGES = original

    response = upload(make_wheel())

    assert response.status_code == 200, response.content
    assert File.objects.count() == 1


def test_orphan_object_under_the_path_is_replaced_by_the_upload(upload):
    wheel = make_wheel()
    path = storage_path_for(blake2_256_digest=wheel.blake2_256, filename=wheel.filename)
    default_storage.save(path, ContentFile(b"left over from a crash"))

    response = upload(wheel)

    assert response.status_code == 200, response.content
    assert File.objects.get().path == path
    with default_storage.open(path, "rb") as stored:
        assert stored.read() == wheel.content


def _age(settings, path: str, *, hours: int) -> None:
    old = time.time() - hours * 3600
    os.utime(Path(settings.MEDIA_ROOT) / path, (old, old))


def test_orphan_sweep_deletes_old_unreferenced_objects_only(upload, settings):
    wheel = make_wheel()
    upload(wheel)
    kept = File.objects.get().path
    orphan = storage_path_for(blake2_256_digest="ab" * 32, filename="orphan-1.0.tar.gz")
    fresh = storage_path_for(blake2_256_digest="cd" * 32, filename="fresh-1.0.tar.gz")
    unrelated = "avatars/someone.png"
    for path in (orphan, fresh, unrelated):
        default_storage.save(path, ContentFile(b"x"))
    for path in (kept, kept + ".metadata", orphan, unrelated):
        _age(settings, path, hours=3)

    deleted = delete_orphaned_files(older_than=timedelta(hours=1))

    assert deleted == 1
    assert not default_storage.exists(orphan)
    for path in (kept, kept + ".metadata", fresh, unrelated):
        assert default_storage.exists(path)


def test_sweep_command_reports_what_it_deleted(settings):
    orphan = storage_path_for(blake2_256_digest="ef" * 32, filename="orphan-1.0.tar.gz")
    default_storage.save(orphan, ContentFile(b"x"))
    _age(settings, orphan, hours=2)
    output = StringIO()

    call_command("sweep_orphaned_uploads", stdout=output)

    assert output.getvalue().strip() == "Deleted 1 orphaned file(s)."
    assert not default_storage.exists(orphan)


def test_sweep_task_deletes_old_orphans_and_keeps_stored_uploads(upload, settings):
    upload(make_wheel())
    kept = File.objects.get().path
    orphan = storage_path_for(blake2_256_digest="ef" * 32, filename="orphan-1.0.tar.gz")
    default_storage.save(orphan, ContentFile(b"x"))
    for path in (kept, orphan):
        _age(settings, path, hours=2)

    assert sweep_orphaned_uploads.delay().get() == 1
    assert sweep_orphaned_uploads.delay().get() == 0

    assert not default_storage.exists(orphan)
    assert default_storage.exists(kept)


def test_sweep_task_leaves_objects_younger_than_an_hour(settings):
    orphan = storage_path_for(blake2_256_digest="ef" * 32, filename="orphan-1.0.tar.gz")
    default_storage.save(orphan, ContentFile(b"x"))
    _age(settings, orphan, hours=0)

    assert sweep_orphaned_uploads.delay().get() == 0

    assert default_storage.exists(orphan)


def test_sweep_task_runs_hourly():
    schedule = django_settings.CELERY_BEAT_SCHEDULE["sweep-orphaned-uploads"]
    assert schedule["task"] == "publishing.tasks.sweep_orphaned_uploads"
    assert schedule["schedule"].hour == set(range(24))
    assert len(schedule["schedule"].minute) == 1


def _download(client, path: str) -> bytes:
    response = client.get(f"/files/{path}")
    assert response.status_code == 200, response
    return b"".join(response.streaming_content)


def test_identical_reupload_stores_a_missing_object_again(upload, client):
    wheel = make_wheel()
    upload(wheel)
    path = File.objects.get().path
    default_storage.delete(path)
    default_storage.delete(path + ".metadata")
    assert client.get(f"/files/{path}").status_code == 404

    response = upload(wheel)

    assert response.status_code == 200, response.content
    assert response.content.decode() == (
        f"The file {wheel.filename} was already published, but its stored copy was missing; it "
        "is stored again from this upload.\n"
    )
    assert _download(client, path) == wheel.content
    assert _download(client, path + ".metadata").startswith(b"Metadata-Version: 2.1")
    assert File.objects.count() == 1
    assert FilenameRegistry.objects.count() == 1


@pytest.mark.parametrize("lost", ["", ".metadata"])
def test_identical_reupload_restores_only_what_is_missing(upload, client, lost):
    wheel = make_wheel()
    upload(wheel)
    path = File.objects.get().path
    kept = ".metadata" if lost == "" else ""
    kept_time = default_storage.get_modified_time(path + kept)
    default_storage.delete(path + lost)

    response = upload(wheel)

    assert "stored again from this upload" in response.content.decode()
    assert default_storage.exists(path + lost)
    assert default_storage.get_modified_time(path + kept) == kept_time


def test_identical_reupload_with_every_object_present_changes_nothing(upload):
    wheel = make_wheel()
    upload(wheel)

    response = upload(wheel)

    assert "nothing changed" in response.content.decode()


def _check_storage(*args: str) -> str:
    output = StringIO()
    call_command("check_storage", *args, stdout=output)
    return output.getvalue()


def test_check_storage_reports_a_consistent_storage(upload):
    upload(make_wheel())

    assert _check_storage() == (
        "0 stored object(s) without a file row.\n0 file row(s) without their stored object.\n"
    )


@pytest.mark.parametrize("repair", [False, True])
def test_check_storage_lists_rows_without_objects_and_fails(upload, repair):
    upload(make_wheel())
    upload(make_wheel(version="2.0"))
    lost = File.objects.get(release__version="2.0").path
    default_storage.delete(lost)
    output = StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("check_storage", *(["--repair"] if repair else []), stdout=output)

    assert str(raised.value) == (
        "1 published file(s) cannot be downloaded: their stored object is missing. Upload the "
        "identical file again (twine upload or uv publish of the same file): the upload finds "
        "its row and stores the object again."
    )
    assert output.getvalue().endswith(f"1 file row(s) without their stored object.\n  {lost}\n")
    assert File.objects.count() == 2


def test_check_storage_repairs_a_row_without_its_object_after_a_reupload(upload):
    wheel = make_wheel()
    upload(wheel)
    default_storage.delete(File.objects.get().path + ".metadata")
    with pytest.raises(CommandError):
        _check_storage()

    upload(wheel)

    assert _check_storage().endswith("0 file row(s) without their stored object.\n")


def test_check_storage_lists_objects_without_rows_and_repair_deletes_the_old_ones(upload, settings):
    upload(make_wheel())
    kept = File.objects.get().path
    old = storage_path_for(blake2_256_digest="ab" * 32, filename="old-1.0.tar.gz")
    young = storage_path_for(blake2_256_digest="cd" * 32, filename="young-1.0.tar.gz")
    for path in (old, young):
        default_storage.save(path, ContentFile(b"x"))
    for path in (kept, kept + ".metadata", old):
        _age(settings, path, hours=3)

    listed = _check_storage()

    assert listed.splitlines()[:3] == [
        "2 stored object(s) without a file row.",
        (
            f"  {old} (modified {default_storage.get_modified_time(old).isoformat()}; the orphan "
            "sweep or --repair deletes it)"
        ),
        (
            f"  {young} (modified {default_storage.get_modified_time(young).isoformat()}; "
            "younger than 1 h, kept: an upload may be in flight)"
        ),
    ]
    assert default_storage.exists(old)

    repaired = _check_storage("--repair")

    assert "Deleted 1 stored object(s) without a file row.\n" in repaired
    assert not default_storage.exists(old)
    for path in (kept, kept + ".metadata", young):
        assert default_storage.exists(path)
    assert _check_storage("--min-age-hours", "0").startswith(
        f"1 stored object(s) without a file row.\n  {young} ("
    )

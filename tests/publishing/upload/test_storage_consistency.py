"""Rows and stored objects stay consistent: failures leave neither a visible file nor an orphan."""

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

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
    assert refusal(response) == (
        "The file could not be stored. Nothing was published; upload it again in a moment."
    )
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
    from io import StringIO  # noqa: PLC0415 - only this test captures output

    from django.core.management import call_command  # noqa: PLC0415

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

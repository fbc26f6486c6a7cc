"""The fault drill: each fault once, what the clients saw, and the books before and after.

For every fault an upload (twine's form, and uv's) and a login meet it, then the fault is
repaired and the same upload is sent again. Before and after, the drill counts what must agree:
File rows, stored objects (`check_storage`), the upload audit events and the outbox, and prints
one line per fault (run with `-s` to see them as they come; CI's log keeps them). A fault ends in
one of two states only: fully published, or nothing visible and the outage_client told to retry.
"""

import sys
from dataclasses import dataclass

import pytest
from django.db import close_old_connections

from auditlog.events import EventType
from auditlog.models import AuditEvent
from index_site.models import OutboxEmail
from projects.models import File
from projects.services.files import check_storage
from tests.index_site.test_outages import UV_ACCEPT, login, upload
from tests.publishing.upload.failing_storage import MetadataFailingStorage

pytestmark = pytest.mark.services


@dataclass(frozen=True)
class Books:
    files: int
    objects_missing: int
    objects_unreferenced: int
    upload_events: int
    outbox: int

    def __str__(self) -> str:
        return (
            f"files={self.files} missing-objects={self.objects_missing} "
            f"unreferenced-objects={self.objects_unreferenced} "
            f"upload-events={self.upload_events} outbox={self.outbox}"
        )


def books() -> Books:
    close_old_connections()  # a connection the fault broke is replaced, as a request would
    storage = check_storage()
    return Books(
        files=File.objects.count(),
        objects_missing=len(storage.missing_objects),
        objects_unreferenced=len(storage.unreferenced_objects),
        upload_events=AuditEvent.objects.filter(event_type=EventType.PROJECT_FILE_ADD).count(),
        outbox=OutboxEmail.objects.count(),
    )


def seen(response) -> str:
    retry = f", Retry-After {response['Retry-After']}" if response.has_header("Retry-After") else ""
    return f"{response.status_code} {response.reason_phrase!r}{retry}"


def drill(capsys, name: str, *, during: list, after: list, before: Books, final: Books) -> None:
    lines = [f"FAULT {name}", f"  books before: {before}"]
    lines += [f"  during, {label}: {seen(response)}" for label, response in during]
    lines += [f"  repaired, {label}: {seen(response)}" for label, response in after]
    lines.append(f"  books after:  {final}")
    with capsys.disabled():
        sys.stdout.write("\n" + "\n".join(lines) + "\n")


def assert_one_of_two_states(during: list, after: list, before: Books, final: Books) -> None:
    """Nothing published during the fault and the outage_client told to retry; all of it after."""
    for _label, response in during:
        assert response.status_code == 503, response.content
        assert response.has_header("Retry-After")
    assert [response.status_code for _label, response in after] == [200]
    assert final.files == before.files + 1
    assert final.upload_events == before.upload_events + 1
    assert final.objects_missing == 0
    assert final.objects_unreferenced == 0


def test_drill_the_database_connection_cut(capsys, database, outage_client, token):
    before = books()
    database.cut()
    during = [
        ("upload (twine)", upload(outage_client, token)),
        ("upload (uv)", upload(outage_client, token, accept=UV_ACCEPT)),
        ("login", login(outage_client)),
    ]
    database.restore()
    # What the start of every request does under a real server (the test client skips it).
    close_old_connections()
    after = [("upload (twine)", upload(outage_client, token))]
    final = books()

    drill(capsys, "database connection cut", during=during, after=after, before=before, final=final)
    assert_one_of_two_states(during, after, before, final)


@pytest.mark.usefixtures("transactional_db")
def test_drill_the_cache_down(capsys, private_redis, outage_client, token):
    before = books()
    private_redis.stop()
    during = [
        ("login", login(outage_client)),
        ("upload (uv)", upload(outage_client, token, accept=UV_ACCEPT)),
    ]
    private_redis.start()
    after = [("upload (twine)", upload(outage_client, token))]
    final = books()

    drill(
        capsys,
        "cache and rate-limit store down",
        during=during,
        after=after,
        before=before,
        final=final,
    )
    assert_one_of_two_states(during, after, before, final)


@pytest.mark.usefixtures("transactional_db")
def test_drill_the_storage_gone(capsys, storage_gone, settings, outage_client, token):
    before = books()
    media = settings.MEDIA_ROOT
    storage_gone()
    during = [("upload (twine)", upload(outage_client, token))]
    settings.MEDIA_ROOT = media.parent.parent / "media-repaired"
    after = [("upload (twine)", upload(outage_client, token))]
    final = books()

    drill(capsys, "storage gone", during=during, after=after, before=before, final=final)
    assert_one_of_two_states(during, after, before, final)


@pytest.mark.usefixtures("transactional_db")
def test_drill_a_storage_write_failing_mid_upload(capsys, settings, outage_client, token):
    before = books()
    failing = f"{MetadataFailingStorage.__module__}.{MetadataFailingStorage.__name__}"
    working = settings.STORAGES["default"]
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": failing}}
    during = [("upload (twine)", upload(outage_client, token))]
    settings.STORAGES = {**settings.STORAGES, "default": working}
    after = [("upload (twine)", upload(outage_client, token))]
    final = books()

    drill(
        capsys,
        "storage write failing mid-upload",
        during=during,
        after=after,
        before=before,
        final=final,
    )
    assert_one_of_two_states(during, after, before, final)

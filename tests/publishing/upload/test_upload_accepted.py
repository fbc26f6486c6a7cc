"""Successful uploads: rows, storage, events, idempotent re-upload, both URL spellings."""

import hashlib
import json

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext

from auditlog.events import EventType
from auditlog.models import AuditEvent
from projects.models import File, FilenameRegistry, ProhibitedProjectName, Project, Release, Role
from projects.names import ultranormalize_project_name
from tests.factories import ProjectFactory, RoleFactory
from tests.publishing.upload.conftest import USER_AGENT
from tests.publishing.upload.dists import core_metadata, make_sdist, make_wheel

pytestmark = pytest.mark.django_db


def test_first_wheel_upload_creates_project_with_uploader_as_owner(upload, uploader):
    wheel = make_wheel("Sample_Pkg", "1.0")

    response = upload(wheel)

    assert response.status_code == 200, response.content
    project = Project.objects.get()
    assert (project.name, project.normalized_name) == ("Sample_Pkg", "sample-pkg")
    assert Role.objects.get(project=project).user == uploader
    assert Role.objects.get(project=project).role == Role.Kind.OWNER
    release = Release.objects.get(project=project)
    assert (release.version, release.canonical_version) == ("1.0", "1")
    assert release.uploaded_by == uploader
    file = File.objects.get()
    assert file.filename == wheel.filename
    assert file.size == len(wheel.content)
    assert file.sha256_digest == wheel.sha256
    assert file.blake2_256_digest == wheel.blake2_256
    assert file.md5_digest == wheel.md5
    assert file.uploaded_via == USER_AGENT
    assert Project.objects.get().total_size == len(wheel.content)
    assert FilenameRegistry.objects.filter(filename=wheel.filename).exists()


def test_file_is_stored_at_a_path_derived_from_its_blake2_digest(upload):
    wheel = make_wheel()

    upload(wheel)

    file = File.objects.get()
    digest = wheel.blake2_256
    assert file.path == f"{digest[:2]}/{digest[2:4]}/{digest[4:]}/{wheel.filename}"
    with default_storage.open(file.path, "rb") as stored:
        assert stored.read() == wheel.content


def test_wheel_metadata_is_stored_beside_the_file_with_its_sha256(upload):
    metadata = core_metadata("sample-pkg", "1.0")
    wheel = make_wheel(metadata=metadata)

    upload(wheel)

    file = File.objects.get()
    assert file.metadata_sha256_digest == hashlib.sha256(metadata).hexdigest()
    with default_storage.open(file.path + ".metadata", "rb") as stored:
        assert stored.read() == metadata


def test_sdist_upload_is_accepted_without_core_metadata_file(upload):
    sdist = make_sdist("sample-pkg", "1.0")

    response = upload(sdist)

    assert response.status_code == 200, response.content
    file = File.objects.get()
    assert file.packagetype == File.PackageType.SDIST
    assert file.python_version == "source"
    assert file.metadata_sha256_digest == ""


def test_upload_records_release_and_file_events_with_uploader_token_and_client(upload, uploader):
    upload(make_wheel())

    types = list(
        AuditEvent.objects.filter(event_type__startswith="project:")
        .order_by("pk")
        .values_list("event_type", flat=True)
    )
    assert types == [
        EventType.PROJECT_CREATE,
        EventType.PROJECT_ROLE_ADD,
        EventType.PROJECT_RELEASE_ADD,
        EventType.PROJECT_FILE_ADD,
    ]
    file_event = AuditEvent.objects.get(event_type=EventType.PROJECT_FILE_ADD)
    assert file_event.actor == uploader
    assert file_event.project == Project.objects.get()
    assert file_event.data["uploader"] == "uploader"
    assert file_event.data["token_name"] == "ci upload"
    assert file_event.data["client"] == USER_AGENT
    assert file_event.data["filename"] == make_wheel().filename
    release_event = AuditEvent.objects.get(event_type=EventType.PROJECT_RELEASE_ADD)
    assert release_event.data["version"] == "1.0"
    assert release_event.data["token_name"] == "ci upload"


def test_identical_file_uploaded_again_answers_200_and_changes_nothing(upload):
    wheel = make_wheel()
    upload(wheel)
    events = AuditEvent.objects.count()

    response = upload(wheel)

    assert response.status_code == 200
    assert "already uploaded with the same content" in response.content.decode()
    assert File.objects.count() == 1
    assert AuditEvent.objects.count() == events


def test_identical_file_of_a_renamed_project_is_refused_and_creates_no_project(upload):
    wheel = make_wheel()
    upload(wheel)
    # The file stays published while its project is known under another name only.
    Project.objects.update(
        name="renamed-pkg",
        normalized_name="renamed-pkg",
        ultranormalized_name=ultranormalize_project_name("renamed-pkg"),
    )
    events = AuditEvent.objects.count()

    response = upload(wheel)

    # The file belongs to the other project: "already uploaded" would claim it for this one.
    assert response.status_code == 400, response.content
    assert response.content.decode().startswith(f"File already exists ('{wheel.filename}'")
    assert list(Project.objects.values_list("normalized_name", flat=True)) == ["renamed-pkg"]
    assert AuditEvent.objects.count() == events


def test_second_file_of_a_release_joins_the_existing_release(upload):
    upload(make_wheel())
    response = upload(make_sdist())

    assert response.status_code == 200, response.content
    assert Release.objects.count() == 1
    assert Release.objects.get().files.count() == 2


def test_upload_without_trailing_slash_is_served_not_redirected(upload):
    response = upload(make_wheel(), path="/legacy")

    assert response.status_code == 200, response.content
    assert File.objects.count() == 1


def test_existing_project_accepts_upload_from_maintainer(upload, uploader):
    project = ProjectFactory(name="sample-pkg", normalized_name="sample-pkg")
    RoleFactory(project=project, user=uploader, role=Role.Kind.MAINTAINER)

    response = upload(make_wheel())

    assert response.status_code == 200, response.content
    assert Project.objects.count() == 1
    assert File.objects.get().release.project == project


def test_unknown_extra_fields_and_empty_requires_python_are_accepted(upload):
    wheel = make_wheel()

    response = upload(
        wheel,
        attestations="[]",
        import_names="sample_pkg",
        requires_python="",
        some_future_field="x",
    )

    assert response.status_code == 200, response.content


def test_md5_digest_alone_is_accepted(upload):
    wheel = make_wheel()

    response = upload(wheel, sha256_digest=None, blake2_256_digest=None, md5_digest=wheel.md5)

    assert response.status_code == 200, response.content


def test_list_fields_are_kept_in_the_release_metadata(upload):
    wheel = make_wheel(requires_dist=("requests>=2", "idna"))

    upload(
        wheel,
        classifiers=["Programming Language :: Python :: 3", "Operating System :: OS Independent"],
        project_urls=["Source, https://example.com/src"],
    )

    metadata = Release.objects.get().metadata
    assert metadata["classifiers"] == [
        "Programming Language :: Python :: 3",
        "Operating System :: OS Independent",
    ]
    assert metadata["requires_dist"] == ["requests>=2", "idna"]
    assert metadata["project_urls"] == {"Source": "https://example.com/src"}


def test_errors_are_json_with_code_when_the_client_prefers_json(upload):
    response = upload(
        make_wheel(), accept="application/json;q=0.9, text/plain;q=0.8", protocol_version="2"
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert body == {
        "message": "Unknown protocol version.",
        "code": "400 Unknown protocol version.",
        "title": "Bad Request",
    }
    assert response.reason_phrase == "Unknown protocol version."


def test_a_first_upload_reads_the_name_policy_and_the_metadata_once(upload):
    # The name is checked before the archive is read, and that check is the one the project's
    # creation relies on: the prohibited names are read once, not again inside the write.
    with CaptureQueriesContext(connection) as queries:
        response = upload(make_wheel("sample-pkg", "1.0"))

    assert response.status_code == 200, response.content
    prohibited = ProhibitedProjectName._meta.db_table
    assert sum(prohibited in query["sql"] for query in queries.captured_queries) == 1
    assert Release.objects.get().metadata["name"] == "sample-pkg"


def test_upload_to_existing_project_runs_a_pinned_number_of_queries(
    upload, django_assert_num_queries
):
    upload(make_wheel("sample-pkg", "1.0"))

    # Token, verified email and second factor, project with the uploader's role; in the
    # transaction: the project lock, then every file check (a statement of its own, so it sees
    # what the upload it waited for committed), the token re-read under a lock, release, event,
    # file, filename registry, the project's size and serial (one statement), event; then the
    # trusted-publisher check for the notice. Two more are the savepoint around the
    # transaction inside the test's own. Exact, so a query added to every upload shows here.
    # SQLite takes no row lock on the project: it serialises writing transactions itself.
    with django_assert_num_queries(15 if connection.features.has_select_for_update else 14):
        response = upload(make_wheel("sample-pkg", "2.0"))

    assert response.status_code == 200, response.content

"""Deleting files, releases and projects: the window, pre-releases, typed confirmation, the
stored objects (exact keys only, after COMMIT, failures left to the orphan sweep), the project's
size and serial, audit events, emails, the name kept for the owners, and admins' deletions."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from auditlog.events import EventType
from auditlog.models import AuditEvent
from index_site.models import OutboxEmail
from projects.exceptions import ProjectNameError, ReleaseChangeError
from projects.models import DeletedProjectName, File, FilenameRegistry, Project, Release, Role
from projects.services.deletion import (
    check_name_not_reserved,
    delete_file,
    delete_own_project,
    delete_release,
)
from projects.services.files import check_storage, delete_orphaned_files, storage_path_for
from projects.services.projects import create_project
from tests.factories import FileFactory, ReleaseFactory, RoleFactory, TwoFactorUserFactory

pytestmark = pytest.mark.django_db

JSON_V1 = "application/vnd.pypi.simple.v1+json"
FILE_SIZE = 1000


@pytest.fixture(autouse=True)
def _filesystem_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    settings.MEDIA_ROOT = tmp_path / "media"


class _Digests:
    """blake2 digests that share all but their last characters, so stored paths share prefixes."""

    count = 0

    @classmethod
    def next(cls) -> str:
        cls.count += 1
        return "ab" * 31 + f"{cls.count:02x}"


def add_file(release: Release, filename: str, *, metadata: bool = True) -> File:
    """A File row with its object (and `.metadata`) in the storage, as an upload leaves it."""
    digest = _Digests.next()
    path = storage_path_for(blake2_256_digest=digest, filename=filename)
    file = FileFactory(
        release=release,
        filename=filename,
        blake2_256_digest=digest,
        path=path,
        size=FILE_SIZE,
        metadata_sha256_digest="c" * 64 if metadata else "",
    )
    FilenameRegistry.objects.create(filename=filename)
    default_storage.save(path, ContentFile(b"distribution bytes"))
    if metadata:
        default_storage.save(path + ".metadata", ContentFile(b"Metadata-Version: 2.1\n"))
    Project.objects.filter(pk=release.project_id).update(
        total_size=Project.objects.get(pk=release.project_id).total_size + FILE_SIZE
    )
    return file


def uploaded_ago(file: File, hours: float) -> None:
    File.objects.filter(pk=file.pk).update(uploaded_at=timezone.now() - timedelta(hours=hours))


@pytest.fixture
def release(project):
    return ReleaseFactory(project=project, version="2.0")


@pytest.fixture
def wheel(release):
    return add_file(release, "widget-2.0-py3-none-any.whl")


@pytest.fixture
def owner_client(login, owner):
    return login(owner)


@pytest.fixture
def after_commit(django_capture_on_commit_callbacks):
    """`with after_commit():` runs what waits for COMMIT: object removal, email delivery."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _collaborator_emails(project: Project) -> list[str]:
    return sorted(role.user.email for role in Role.objects.filter(project=project))


def _flash(response) -> str:
    return [str(message) for message in get_messages(response.wsgi_request)][-1]


def _url(view: str, release: Release, **kwargs) -> str:
    return reverse(
        f"projects:{view}",
        kwargs={"name": release.project.normalized_name, "version": release.version, **kwargs},
    )


@pytest.mark.usefixtures("maintainer")
def test_an_owner_deletes_a_fresh_file_and_everything_follows(
    owner_client, wheel, owner, after_commit
):
    release, project = wheel.release, wheel.release.project
    sdist = add_file(release, "widget-2.0.tar.gz", metadata=False)
    serial = Project.objects.get(pk=project.pk).serial

    with after_commit():
        response = owner_client.post(
            _url("delete_file", release, file_id=wheel.pk), {"confirm": wheel.filename}
        )

    assert "Deleted file 'widget-2.0-py3-none-any.whl'" in _flash(response)
    assert not File.objects.filter(pk=wheel.pk).exists()
    assert FilenameRegistry.objects.filter(filename=wheel.filename).exists()
    assert not default_storage.exists(wheel.path)
    assert not default_storage.exists(wheel.path + ".metadata")
    assert default_storage.exists(sdist.path)
    project.refresh_from_db()
    assert project.total_size == FILE_SIZE
    assert project.serial == serial + 1
    event = AuditEvent.objects.get(event_type=EventType.PROJECT_FILE_REMOVE)
    assert (event.actor, event.project) == (owner, project)
    assert event.data["filename"] == wheel.filename
    assert event.data["by"] == "owner"
    # Delivered from the outbox after COMMIT, like the objects' removal.
    assert sorted(email.to[0] for email in mail.outbox) == _collaborator_emails(project)
    assert len(mail.outbox) == 2
    for email in mail.outbox:
        assert wheel.filename in email.body
        assert wheel.filename in email.alternatives[0][0]
        assert f"{owner.username} (Owner) deleted" in email.body
    page = json.loads(owner_client.get("/simple/widget/", HTTP_ACCEPT=JSON_V1).content)
    assert [file["filename"] for file in page["files"]] == [sdist.filename]


@pytest.mark.parametrize("what", ["file", "release", "project"])
def test_after_the_window_owners_cannot_delete_and_are_told_to_yank(owner_client, wheel, what):
    uploaded_ago(wheel, 73)
    client, release = owner_client, wheel.release
    if what == "file":
        response = client.post(
            _url("delete_file", release, file_id=wheel.pk), {"confirm": wheel.filename}
        )
    elif what == "release":
        response = client.post(_url("delete_release", release), {"confirm": "2.0"})
    else:
        response = client.post(
            reverse("projects:delete_project", kwargs={"name": "widget"}), {"confirm": "Widget"}
        )

    message = _flash(response)
    assert "more than 72 hours ago" in message
    assert "Yank" in message
    assert File.objects.filter(pk=wheel.pk).exists()
    assert default_storage.exists(wheel.path)
    assert not AuditEvent.objects.filter(
        event_type__in=[
            EventType.PROJECT_FILE_REMOVE,
            EventType.PROJECT_RELEASE_REMOVE,
            EventType.PROJECT_REMOVE,
        ]
    ).exists()
    assert not OutboxEmail.objects.exists()


def test_after_the_window_the_pages_explain_why_and_offer_yank(owner_client, wheel):
    uploaded_ago(wheel, 100)

    release_page = owner_client.get(_url("manage_release", wheel.release)).content.decode()
    project_page = owner_client.get(
        reverse("projects:delete_project", kwargs={"name": "widget"})
    ).content.decode()

    assert 'id="deletion-refused"' in release_page
    assert "Yank the release instead" in release_page
    assert "Delete release" not in release_page
    assert "Delete file" not in release_page
    assert "can no longer be deleted (2.0)" in project_page
    assert "Delete project" not in project_page


@pytest.mark.parametrize(
    ("hours", "deletable"), [(0.5, True), (0.99, True), (1.01, False), (30, False)]
)
def test_the_window_is_the_setting_in_hours(settings, release, owner, hours, deletable):
    settings.DELETION_WINDOW_HOURS = 1
    file = add_file(release, "widget-2.0.tar.gz")
    uploaded_ago(file, hours)

    if deletable:
        delete_file(file=file, actor=owner)
        assert not File.objects.filter(pk=file.pk).exists()
    else:
        with pytest.raises(ReleaseChangeError, match="more than 1 hours ago"):
            delete_file(file=file, actor=owner)


@pytest.mark.parametrize("version", ["2.0rc1", "2.0.dev3", "1.0a1", "3.0b2", "4.0.post1.dev0"])
def test_pre_releases_are_deletable_at_any_time(project, owner, version):
    release = ReleaseFactory(project=project, version=version)
    old = add_file(release, f"widget-{version}.tar.gz")
    uploaded_ago(old, 24 * 400)

    delete_release(release=release, actor=owner)

    assert not Release.objects.filter(pk=release.pk).exists()


def test_a_release_is_deletable_only_when_all_its_files_are(project, release, wheel, owner):
    late = add_file(release, "widget-2.0.tar.gz")
    uploaded_ago(late, 80)

    with pytest.raises(ReleaseChangeError, match=r"widget-2\.0\.tar\.gz"):
        delete_release(release=release, actor=owner)
    # Its fresh file alone still may go.
    delete_file(file=wheel, actor=owner)

    assert Release.objects.filter(pk=release.pk).exists()
    assert list(File.objects.values_list("filename", flat=True)) == [late.filename]


def test_a_project_is_deletable_only_when_all_its_releases_are(project, release, wheel, owner):
    old_release = ReleaseFactory(project=project, version="1.0")
    uploaded_ago(add_file(old_release, "widget-1.0.tar.gz"), 80)

    with pytest.raises(ReleaseChangeError, match=r"can no longer be deleted \(1\.0\)"):
        delete_own_project(project=project, actor=owner)

    assert Project.objects.filter(pk=project.pk).exists()


@pytest.mark.parametrize(
    ("view", "typed"),
    [("delete_release", "2"), ("delete_release", ""), ("delete_file", "widget-2.0.whl")],
)
def test_the_name_must_be_typed_exactly(owner_client, wheel, view, typed):
    kwargs = {"file_id": wheel.pk} if view == "delete_file" else {}

    response = owner_client.post(_url(view, wheel.release, **kwargs), {"confirm": typed})

    assert "to confirm" in _flash(response)
    assert File.objects.filter(pk=wheel.pk).exists()


def test_maintainers_cannot_delete(login, release, wheel, maintainer):
    response = login(maintainer).post(_url("delete_release", release), {"confirm": "2.0"})

    assert response.status_code == 403
    assert Release.objects.filter(pk=release.pk).exists()


def test_a_quarantined_release_refuses_deletion_with_how_to_appeal(release, wheel, owner):
    Release.objects.filter(pk=release.pk).update(is_quarantined=True)

    for delete in (
        lambda: delete_file(file=wheel, actor=owner),
        lambda: delete_release(release=release, actor=owner),
    ):
        with pytest.raises(ReleaseChangeError, match=r"quarantined.*appeal"):
            delete()

    assert File.objects.filter(pk=wheel.pk).exists()


def test_deleting_foo_never_touches_foobar(owner, after_commit):
    """Objects whose keys start with a deleted object's key, or sit beside it, stay."""
    foo = create_project(name="foo", creator=owner)
    foobar = create_project(name="foobar", creator=owner)
    foo_file = add_file(ReleaseFactory(project=foo, version="1.0"), "foo-1.0.tar.gz")
    foobar_file = add_file(ReleaseFactory(project=foobar, version="1.0"), "foobar-1.0.tar.gz")
    directory = foo_file.path.rsplit("/", 1)[0]
    neighbours = [
        foo_file.path + "bar",
        foo_file.path + ".metadata.orig",
        f"{directory}/foo-1.0.tar.gz.bak",
        f"{directory}/foo",
        f"{directory[:-1]}/foo-1.0.tar.gz",  # a directory whose name the deleted one's starts
    ]
    for key in neighbours:
        default_storage.save(key, ContentFile(b"someone else's"))

    with after_commit():
        delete_own_project(project=foo, actor=owner)

    assert not default_storage.exists(foo_file.path)
    assert not default_storage.exists(foo_file.path + ".metadata")
    for key in [*neighbours, foobar_file.path, foobar_file.path + ".metadata"]:
        assert default_storage.exists(key), key
    assert File.objects.filter(pk=foobar_file.pk).exists()


class DeleteFailingStorage(default_storage.__class__):
    """A filesystem storage whose deletes fail, like an object store that is down."""

    def delete(self, name):
        raise OSError("storage unavailable")


def test_a_storage_failure_leaves_the_object_for_the_orphan_sweep(
    settings, wheel, owner, after_commit
):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}.DeleteFailingStorage"},
    }

    with after_commit():
        delete_file(file=wheel, actor=owner)

    # The row is gone, the object stays: never a row without its file.
    assert not File.objects.filter(pk=wheel.pk).exists()
    assert default_storage.exists(wheel.path)
    unreferenced = {
        item.path for item in check_storage(older_than=timedelta(0)).unreferenced_objects
    }
    assert unreferenced == {wheel.path, wheel.path + ".metadata"}

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert delete_orphaned_files() == 2
    assert not default_storage.exists(wheel.path)


def _delete_then_fail(release: Release, owner) -> None:
    with transaction.atomic():
        delete_release(release=release, actor=owner)
        raise RuntimeError("a later step failed")


def test_a_rolled_back_deletion_keeps_rows_and_objects(
    wheel, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        _delete_then_fail(wheel.release, owner)

    assert callbacks == []
    assert File.objects.filter(pk=wheel.pk).exists()
    assert default_storage.exists(wheel.path)
    assert default_storage.exists(wheel.path + ".metadata")


def test_an_owner_deletes_a_release_and_its_version_is_gone_from_the_index(
    owner_client, wheel, after_commit
):
    release, project = wheel.release, wheel.release.project
    ReleaseFactory(project=project, version="1.0")

    with after_commit():
        response = owner_client.post(_url("delete_release", release), {"confirm": "2.0"})

    assert response["Location"] == reverse("projects:releases", kwargs={"name": "widget"})
    assert not Release.objects.filter(pk=release.pk).exists()
    assert not default_storage.exists(wheel.path)
    event = AuditEvent.objects.get(event_type=EventType.PROJECT_RELEASE_REMOVE)
    assert event.data["filenames"] == [wheel.filename]
    assert OutboxEmail.objects.filter(template="projects/files_deleted").count() == 1
    project.refresh_from_db()
    assert project.total_size == 0
    page = json.loads(owner_client.get("/simple/widget/", HTTP_ACCEPT=JSON_V1).content)
    assert page["files"] == []


@pytest.mark.usefixtures("maintainer")
def test_an_owner_deletes_the_project_and_its_name_is_kept_for_the_owners(
    owner_client, wheel, owner, after_commit
):
    other_owner = TwoFactorUserFactory()
    RoleFactory(project=wheel.release.project, user=other_owner, role=Role.Kind.OWNER)

    with after_commit():
        response = owner_client.post(
            reverse("projects:delete_project", kwargs={"name": "widget"}), {"confirm": "Widget"}
        )

    assert response["Location"] == reverse("projects:mine")
    assert not Project.objects.filter(normalized_name="widget").exists()
    assert not default_storage.exists(wheel.path)
    assert FilenameRegistry.objects.filter(filename=wheel.filename).exists()
    event = AuditEvent.objects.get(event_type=EventType.PROJECT_REMOVE)
    assert (event.data["by"], event.data["removed_by"]) == ("owner", owner.username)
    reservation = DeletedProjectName.objects.get(normalized_name="widget")
    assert set(reservation.former_owners.all()) == {owner, other_owner}
    assert OutboxEmail.objects.filter(template="projects/project_removed").count() == 3
    assert len(mail.outbox) == 3
    assert "stays reserved for its former owners until" in " ".join(mail.outbox[0].body.split())


def test_a_reserved_name_is_refused_to_others_until_the_period_ends(settings, project, owner):
    settings.DELETED_NAME_RESERVATION_DAYS = 30
    delete_own_project(project=project, actor=owner)
    other = TwoFactorUserFactory()

    for name in ("Widget", "widget", "WIDGET_", "w1dget"):
        with pytest.raises(ProjectNameError, match="reserved until") as refused:
            check_name_not_reserved(name=name, user=other)
        assert refused.value.code == "reserved"
    with pytest.raises(ProjectNameError):
        check_name_not_reserved(name="widget", user=None)
    check_name_not_reserved(name="widget", user=owner)
    check_name_not_reserved(name="gadget", user=other)

    with time_machine.travel(timezone.now() + timedelta(days=31)):
        check_name_not_reserved(name="widget", user=other)


def test_admins_delete_old_releases_and_files_with_a_reason(login, wheel, after_commit):
    release = wheel.release
    superuser = TwoFactorUserFactory(is_staff=True, is_superuser=True)
    sdist = add_file(release, "widget-2.0.tar.gz")
    uploaded_ago(wheel, 24 * 365)
    uploaded_ago(sdist, 24 * 365)
    client = login(superuser)
    file_url = reverse("admin:projects_file_delete", args=[sdist.pk])
    release_url = reverse("admin:projects_release_delete", args=[release.pk])

    assert client.get(release_url).status_code == 200
    assert client.post(file_url, {"reason": "", "confirm": sdist.filename}).status_code == 200
    assert client.post(release_url, {"reason": "x", "confirm": "2.0"}).status_code == 200
    with after_commit():
        client.post(file_url, {"reason": "Contains a leaked key.", "confirm": sdist.filename})
        response = client.post(release_url, {"reason": "Malware.", "confirm": "Widget 2.0"})

    assert response.status_code == 302
    assert not Release.objects.filter(pk=release.pk).exists()
    assert not default_storage.exists(wheel.path)
    assert not default_storage.exists(sdist.path)
    file_event = AuditEvent.objects.get(event_type=EventType.PROJECT_FILE_REMOVE)
    assert (file_event.data["by"], file_event.data["reason"]) == ("admin", "Contains a leaked key.")
    release_event = AuditEvent.objects.get(event_type=EventType.PROJECT_RELEASE_REMOVE)
    assert (release_event.actor, release_event.data["reason"]) == (superuser, "Malware.")
    (release_email,) = [email for email in mail.outbox if "release of Widget" in email.subject]
    assert "An administrator of" in release_email.body
    assert "Reason: Malware." in release_email.body
    assert not DeletedProjectName.objects.exists()


def test_the_admin_service_refuses_a_deletion_without_a_reason(release, wheel):
    admin = TwoFactorUserFactory(is_staff=True)

    with pytest.raises(ValueError, match="reason"):
        delete_release(release=release, actor=admin, by_admin=True, reason="  ")

    assert Release.objects.filter(pk=release.pk).exists()

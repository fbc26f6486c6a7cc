"""Yanking and un-yanking a release (PEP 592) from its management page: who may, what must be
typed, what the index then shows, the audit events and the emails to every collaborator."""

import json
import time

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.reauth import AUTHENTICATED_AT_KEY
from auditlog.events import EventType
from auditlog.models import AuditEvent
from index_site.models import OutboxEmail
from projects.models import Project, Release
from projects.services.yank import unyank_release, yank_release
from tests.factories import FileFactory, ReleaseFactory, TwoFactorUserFactory

pytestmark = pytest.mark.django_db

JSON_V1 = "application/vnd.pypi.simple.v1+json"


@pytest.fixture
def release(project):
    release = ReleaseFactory(project=project, version="2.0")
    FileFactory(release=release, filename="widget-2.0-py3-none-any.whl")
    return release


def _yank_url(release: Release, action: str = "yank_release") -> str:
    return reverse(
        f"projects:{action}",
        kwargs={"name": release.project.normalized_name, "version": release.version},
    )


def _flash(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _serial(project: Project) -> int:
    return Project.objects.get(pk=project.pk).serial


@pytest.mark.usefixtures("owner")
def test_a_maintainer_yanks_with_a_reason_and_the_index_marks_every_file(
    login, client, project, release, maintainer
):
    serial = _serial(project)

    response = login(maintainer).post(
        _yank_url(release), {"confirm": "2.0", "reason": "Breaks on Python 3.13"}
    )

    assert response.status_code == 302
    assert "Yanked release '2.0'" in _flash(response)[0]
    release.refresh_from_db()
    assert (release.yanked, release.yanked_reason) == (True, "Breaks on Python 3.13")
    assert release.yanked_at is not None
    assert _serial(project) == serial + 1
    event = AuditEvent.objects.get(event_type=EventType.PROJECT_RELEASE_YANK)
    assert event.actor == maintainer
    assert event.data["reason"] == "Breaks on Python 3.13"
    assert event.data["version"] == "2.0"
    page = json.loads(client.get("/simple/widget/", HTTP_ACCEPT=JSON_V1).content)
    assert [file["yanked"] for file in page["files"]] == ["Breaks on Python 3.13"]
    html = client.get("/simple/widget/", HTTP_ACCEPT="text/html").content.decode()
    assert 'data-yanked="Breaks on Python 3.13"' in html


def test_every_owner_and_maintainer_is_emailed_with_who_and_why(
    login, project, release, owner, maintainer
):
    login(owner).post(_yank_url(release), {"confirm": "2.0", "reason": "Broken wheel"})

    emails = OutboxEmail.objects.filter(template="projects/release_yanked")
    assert sorted(email.recipient for email in emails) == sorted([owner.email, maintainer.email])
    for email in emails:
        assert "A release of Widget was yanked: 2.0" in email.subject
        for body in (email.body_text, email.body_html):
            assert f"{owner.username} (Owner) yanked release" in body
            assert "Broken wheel" in body
            assert "/manage/project/widget/release/2.0/" in body
    to_maintainer = emails.get(recipient=maintainer.email).body_text
    assert "you are Maintainer of Widget" in to_maintainer


def test_a_yank_without_a_reason_says_none_provided_and_the_index_sends_true(
    login, client, project, release, owner
):
    login(owner).post(_yank_url(release), {"confirm": "2.0"})

    page = json.loads(client.get("/simple/widget/", HTTP_ACCEPT=JSON_V1).content)
    assert page["files"][0]["yanked"] is True
    email = OutboxEmail.objects.get(template="projects/release_yanked", recipient=owner.email)
    assert "Reason: none provided" in email.body_text


@pytest.mark.parametrize("typed", ["", "2.0.0", "2", " 2.O", "widget"])
def test_the_version_must_be_typed_exactly(login, project, release, owner, typed):
    response = login(owner).post(_yank_url(release), {"confirm": typed, "reason": "x"})

    assert response.status_code == 302
    (message,) = _flash(response)
    assert "'2.0'" in message
    assert "confirm" in message
    release.refresh_from_db()
    assert not release.yanked
    assert not AuditEvent.objects.filter(event_type=EventType.PROJECT_RELEASE_YANK).exists()
    assert not OutboxEmail.objects.exists()


def test_unyank_clears_the_reason_records_and_emails(login, client, project, release, owner):
    yank_release(release=release, actor=owner, reason="oops")
    serial = _serial(project)

    response = login(owner).post(_yank_url(release, "unyank_release"), {"confirm": "2.0"})

    assert _flash(response) == ["Un-yanked release '2.0'."]
    release.refresh_from_db()
    assert (release.yanked, release.yanked_reason, release.yanked_at) == (False, "", None)
    assert _serial(project) == serial + 1
    assert AuditEvent.objects.filter(event_type=EventType.PROJECT_RELEASE_UNYANK).count() == 1
    assert OutboxEmail.objects.filter(template="projects/release_unyanked").count() == 1
    page = json.loads(client.get("/simple/widget/", HTTP_ACCEPT=JSON_V1).content)
    assert page["files"][0]["yanked"] is False


def test_yanking_again_with_the_same_reason_changes_nothing(project, release, owner):
    assert yank_release(release=release, actor=owner, reason="same")
    serial = _serial(project)

    assert not yank_release(release=release, actor=owner, reason="same")
    assert not unyank_release(release=ReleaseFactory(project=project), actor=owner)

    assert _serial(project) == serial
    assert AuditEvent.objects.filter(event_type=EventType.PROJECT_RELEASE_YANK).count() == 1


@pytest.mark.parametrize("where", ["release", "project"])
def test_a_quarantined_release_refuses_yank_and_unyank_with_how_to_appeal(
    login, project, release, owner, where
):
    if where == "release":
        Release.objects.filter(pk=release.pk).update(is_quarantined=True, yanked=True)
    else:
        Release.objects.filter(pk=release.pk).update(yanked=True)
        Project.objects.filter(pk=project.pk).update(status=Project.Status.QUARANTINED)
    client = login(owner)

    for action in ("yank_release", "unyank_release"):
        response = client.post(_yank_url(release, action), {"confirm": "2.0"})
        message = _flash(response)[-1]
        assert "quarantined while the site administrators review it" in message
        assert "appeal" in message

    release.refresh_from_db()
    assert release.yanked
    assert not AuditEvent.objects.filter(
        event_type__in=[EventType.PROJECT_RELEASE_YANK, EventType.PROJECT_RELEASE_UNYANK]
    ).exists()


def test_strangers_are_refused_and_recorded(login, project, release):
    stranger = TwoFactorUserFactory()

    response = login(stranger).post(_yank_url(release), {"confirm": "2.0"})

    assert response.status_code == 403
    release.refresh_from_db()
    assert not release.yanked
    denied = AuditEvent.objects.get(event_type=EventType.AUTHZ_DENIED, actor=stranger)
    assert denied.data["action"] == "project:release:yank"


def test_a_stale_login_must_reauthenticate_before_yanking(login, project, release, owner):
    client = login(owner)
    session = client.session
    session[AUTHENTICATED_AT_KEY] = int(time.time()) - 24 * 3600
    session.save()

    response = client.post(_yank_url(release), {"confirm": "2.0"})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:reauth"))
    release.refresh_from_db()
    assert not release.yanked


def test_the_release_page_offers_yank_to_maintainers_and_deletion_only_to_owners(
    login, project, release, owner, maintainer
):
    url = reverse("projects:manage_release", kwargs={"name": "widget", "version": "2.0"})

    as_maintainer = login(maintainer).get(url).content.decode()
    as_owner = login(owner).get(url).content.decode()

    assert "Yank release" in as_maintainer
    assert "Delete release" not in as_maintainer
    assert "Delete file" not in as_maintainer
    assert "Delete release" in as_owner
    assert "Delete file" in as_owner


def test_the_release_pages_read_a_fixed_number_of_queries(
    login, project, owner, django_assert_max_num_queries
):
    for index in range(30):
        release = ReleaseFactory(project=project, version=f"3.{index}")
        for tag in ("py3-none-any", "py2-none-any"):
            FileFactory(release=release, filename=f"widget-3.{index}-{tag}.whl")
    client = login(owner)
    # Session, user, second factor and role: 4 queries; then the page's own reads, however
    # many releases and files there are.
    pages = {
        reverse("projects:releases", kwargs={"name": "widget"}): 6,
        reverse("projects:manage_release", kwargs={"name": "widget", "version": "3.7"}): 7,
        reverse("projects:delete_project", kwargs={"name": "widget"}): 6,
    }

    for page, queries in pages.items():
        with django_assert_max_num_queries(queries):
            assert client.get(page).status_code == 200

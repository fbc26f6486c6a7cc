"""Removing a project in the admin: a reason, an audit event that outlives it, collaborators
emailed."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from auditlog.events import EventType
from auditlog.models import AuditEvent
from index_site.models import OutboxEmail
from projects.models import File, FilenameRegistry, Project, Role
from projects.services.deletion import delete_project
from projects.services.projects import create_project
from tests.factories import FileFactory, ReleaseFactory, RoleFactory, TwoFactorUserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(db):
    return TwoFactorUserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def doomed(owner):
    project = create_project(name="Doomed-Thing", creator=owner)
    release = ReleaseFactory(project=project, version="1.0")
    FileFactory(release=release, filename="doomed_thing-1.0.tar.gz")
    FilenameRegistry.objects.create(filename="doomed_thing-1.0.tar.gz")
    return project


def _delete_url(project: Project) -> str:
    return reverse("admin:projects_project_delete", args=[project.pk])


def test_admin_removes_a_project_with_a_reason_recorded_and_collaborators_emailed(
    login, superuser, doomed, owner, maintainer_of
):
    maintainer = maintainer_of(doomed)
    client = login(superuser)
    assert client.get(_delete_url(doomed)).status_code == 200

    response = client.post(
        _delete_url(doomed),
        {"reason": "Malware reported by users.", "confirm_name": "doomed-thing"},
    )

    assert response.status_code == 302
    assert not Project.objects.filter(normalized_name="doomed-thing").exists()
    assert not File.objects.exists()
    assert FilenameRegistry.objects.filter(filename="doomed_thing-1.0.tar.gz").exists()
    event = AuditEvent.objects.get(event_type=EventType.PROJECT_REMOVE)
    assert event.actor == superuser
    assert event.project is None  # the row is gone; the name stays on the event
    assert event.project_name == "Doomed-Thing"
    assert event.data["reason"] == "Malware reported by users."
    assert event.data["owners"] == [owner.username]
    assert (event.data["release_count"], event.data["file_count"]) == (1, 1)
    emails = OutboxEmail.objects.filter(template="projects/project_removed")
    assert sorted(email.recipient for email in emails) == sorted([owner.email, maintainer.email])
    body = emails.get(recipient=maintainer.email).body_text
    assert "Malware reported by users." in body
    assert "Doomed-Thing" in body
    assert "where you were Maintainer" in body
    assert "may now be registered by anyone" in body
    assert "http://" in body or "https://" in body


def test_admin_removal_needs_the_project_name_typed(login, superuser, doomed):
    response = login(superuser).post(
        _delete_url(doomed), {"reason": "Spam.", "confirm_name": "another-project"}
    )

    assert response.status_code == 200
    assert "Type &#x27;Doomed-Thing&#x27; exactly" in response.content.decode()
    assert Project.objects.filter(pk=doomed.pk).exists()
    assert not AuditEvent.objects.filter(event_type=EventType.PROJECT_REMOVE).exists()


def test_admin_removal_needs_a_reason(login, superuser, doomed):
    response = login(superuser).post(
        _delete_url(doomed), {"reason": "", "confirm_name": "Doomed-Thing"}
    )

    assert response.status_code == 200
    assert Project.objects.filter(pk=doomed.pk).exists()
    assert not OutboxEmail.objects.filter(template="projects/project_removed").exists()


def test_staff_without_the_delete_permission_cannot_remove_a_project(login, doomed):
    staff = TwoFactorUserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_project"))

    response = login(staff).post(
        _delete_url(doomed), {"reason": "Spam.", "confirm_name": "Doomed-Thing"}
    )

    assert response.status_code == 403
    assert Project.objects.filter(pk=doomed.pk).exists()


def test_service_refuses_a_removal_without_a_reason(superuser, doomed):
    with pytest.raises(ValueError, match="reason"):
        delete_project(project=doomed, actor=superuser, reason="  ")

    assert Project.objects.filter(pk=doomed.pk).exists()
    assert Role.objects.filter(project=doomed).exists()


@pytest.fixture
def maintainer_of():
    def make(project: Project):
        user = TwoFactorUserFactory()
        RoleFactory(project=project, user=user, role=Role.Kind.MAINTAINER)
        return user

    return make

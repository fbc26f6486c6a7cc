"""Project status by owners (archive, deprecate, back to active) and quarantine by administrators:
who may do what, what each change records and emails, and what installers then see."""

import html
import json

import pytest
from django.urls import reverse

from auditlog.models import AuditEvent
from index_site.models import OutboxEmail
from projects.models import Project
from projects.services.status import (
    StatusChangeError,
    lift_project_quarantine,
    lift_release_quarantine,
    quarantine_project,
    quarantine_release,
    set_project_status,
)
from tests.factories import FileFactory, ProjectFactory, ReleaseFactory, TwoFactorUserFactory

JSON_V1 = "application/vnd.pypi.simple.v1+json"
OWNER_STATUSES = [Project.Status.ACTIVE, Project.Status.ARCHIVED, Project.Status.DEPRECATED]


def _status_url(project) -> str:
    return reverse("projects:status", kwargs={"name": project.normalized_name})


def _simple(client, project) -> dict:
    response = client.get(f"/simple/{project.normalized_name}/", HTTP_ACCEPT=JSON_V1)
    assert response.status_code == 200
    return json.loads(response.content)


def test_owner_archives_from_the_settings_page_and_everyone_is_told(
    login, client, project, owner, maintainer
):
    serial = project.serial

    response = login(owner).post(
        _status_url(project), {"status": "archived", "reason": "No more releases"}, follow=True
    )

    assert "Widget is archived: uploads are refused" in response.content.decode()
    project.refresh_from_db()
    assert project.status == Project.Status.ARCHIVED
    assert project.status_reason == "No more releases"
    assert project.status_changed_at is not None
    assert project.serial == serial + 1
    [event] = AuditEvent.objects.filter(event_type="project:archive:enter")
    assert event.actor == owner
    assert event.project == project
    assert event.data["reason"] == "No more releases"
    emails = OutboxEmail.objects.filter(template="projects/status_changed")
    assert {email.recipient for email in emails} == {owner.email, maintainer.email}
    assert all("Widget was archived" in email.subject for email in emails)
    assert "uploads to Widget are refused" in emails[0].body_text
    assert _simple(client, project)["project-status"] == {
        "status": "archived",
        "reason": "No more releases",
    }


def test_unarchive_and_deprecate_record_leaving_and_entering(login, project, owner):
    ProjectFactory(name="widget-ng")
    client = login(owner)
    client.post(_status_url(project), {"status": "archived"})
    client.post(_status_url(project), {"status": "active"})
    client.post(
        _status_url(project),
        {"status": "deprecated", "reason": "Use widget-ng", "successor": "Widget_NG"},
    )
    client.post(_status_url(project), {"status": "active"})

    types = list(
        AuditEvent.objects.filter(project=project)
        .exclude(event_type__in=["project:create", "project:role:add"])
        .order_by("pk")
        .values_list("event_type", flat=True)
    )
    assert types == [
        "project:archive:enter",
        "project:archive:exit",
        "project:deprecate:enter",
        "project:deprecate:exit",
    ]
    deprecated = AuditEvent.objects.get(event_type="project:deprecate:enter")
    assert deprecated.data["successor"] == "widget-ng"
    project.refresh_from_db()
    assert (project.status, project.status_reason, project.successor) == ("active", "", None)
    assert OutboxEmail.objects.filter(template="projects/status_changed").count() == 4


def test_the_settings_page_shows_the_status_section(login, project, owner):
    response = login(owner).get(reverse("projects:settings", kwargs={"name": "widget"}))
    content = response.content.decode()
    assert "Archive this project" in content
    assert "Deprecate this project" in content


@pytest.mark.parametrize(
    ("successor_name", "expected"),
    [
        ("no-such-project", "No project named 'no-such-project' is on this index."),
        ("WIDGET", "A project cannot be its own successor."),
    ],
)
def test_a_successor_must_be_another_existing_project(
    login, project, owner, successor_name, expected
):
    response = login(owner).post(
        _status_url(project),
        {"status": "deprecated", "successor": successor_name},
        follow=True,
    )
    assert html.escape(expected) in response.content.decode()
    project.refresh_from_db()
    assert project.status == Project.Status.ACTIVE


def test_a_quarantined_project_cannot_be_named_successor(project, owner, admin_user):
    other = ProjectFactory(name="bad")
    quarantine_project(project=other, actor=admin_user, reason="malware")
    with pytest.raises(StatusChangeError, match="'bad' is quarantined"):
        set_project_status(project=project, status="deprecated", successor=other, actor=owner)


def test_an_unchanged_status_changes_nothing(project, owner):
    assert set_project_status(project=project, status="archived", actor=owner)
    assert not set_project_status(project=project, status="archived", actor=owner)
    assert AuditEvent.objects.filter(event_type="project:archive:enter").count() == 1


def test_owners_cannot_set_the_quarantine_themselves(project, owner):
    with pytest.raises(ValueError, match="Owners cannot set the status"):
        set_project_status(project=project, status="quarantined", actor=owner)


def test_maintainers_and_strangers_cannot_change_the_status(login, project, maintainer):
    for user in (maintainer, TwoFactorUserFactory()):
        response = login(user).post(_status_url(project), {"status": "archived"})
        assert response.status_code == 403
    project.refresh_from_db()
    assert project.status == Project.Status.ACTIVE
    assert AuditEvent.objects.filter(event_type="authz:denied").count() == 2


@pytest.mark.parametrize("status", OWNER_STATUSES)
def test_owners_cannot_change_a_quarantined_project(login, project, owner, status, settings):
    admin_user = TwoFactorUserFactory(is_staff=True, is_superuser=True)
    settings.ADMINS = [("Security", "security@example.org")]
    quarantine_project(project=project, actor=admin_user, reason="Malware in setup.py")

    response = login(owner).post(_status_url(project), {"status": status}, follow=True)

    content = response.content.decode()
    assert "Project &#x27;Widget&#x27; is quarantined" in content
    assert "write to security@example.org" in content
    project.refresh_from_db()
    assert project.status == Project.Status.QUARANTINED


def test_quarantine_hides_the_project_and_lifting_restores_the_status_before(
    client, owner, maintainer, admin_user, release
):
    project = release.project
    set_project_status(project=project, status="archived", reason="done", actor=owner)
    assert _simple(client, project)["files"]

    assert quarantine_project(project=project, actor=admin_user, reason="Malware in setup.py")

    assert _simple(client, project)["files"] == []
    project.refresh_from_db()
    assert project.status_before_quarantine == Project.Status.ARCHIVED
    [event] = AuditEvent.objects.filter(event_type="project:quarantine:enter")
    assert (event.actor, event.data["reason"]) == (admin_user, "Malware in setup.py")
    emails = OutboxEmail.objects.filter(template="projects/quarantined")
    assert {email.recipient for email in emails} == {owner.email, maintainer.email}
    body = " ".join(emails[0].body_text.split())
    assert "Malware in setup.py" in body
    assert "if you think this is a mistake, contact the administrators" in body
    assert not quarantine_project(project=project, actor=admin_user, reason="again")

    assert lift_project_quarantine(project=project, actor=admin_user, reason="False positive")

    project.refresh_from_db()
    assert project.status == Project.Status.ARCHIVED
    assert project.status_reason == "done"
    assert _simple(client, project)["files"]
    assert AuditEvent.objects.filter(event_type="project:quarantine:exit").count() == 1
    lifted = OutboxEmail.objects.filter(template="projects/quarantine_lifted")
    assert lifted.count() == 2
    assert "uploads stay refused until you unarchive it" in " ".join(lifted[0].body_text.split())
    assert not lift_project_quarantine(project=project, actor=admin_user, reason="again")


def test_release_quarantine_hides_only_that_release(client, project, owner, admin_user, release):
    other = ReleaseFactory(project=project, version="2.0")
    FileFactory(release=other, filename="widget-2.0.tar.gz")
    serial = Project.objects.get(pk=project.pk).serial

    assert quarantine_release(release=release, actor=admin_user, reason="Typosquat payload")

    page = _simple(client, project)
    assert [file["filename"] for file in page["files"]] == ["widget-2.0.tar.gz"]
    assert page["project-status"] == {"status": "active"}
    assert Project.objects.get(pk=project.pk).serial == serial + 1
    [event] = AuditEvent.objects.filter(event_type="project:release:quarantine:enter")
    assert (event.project, event.data["version"]) == (project, "1.0")
    [email] = OutboxEmail.objects.filter(template="projects/quarantined")
    assert "Release 1.0 of Widget was quarantined" in email.subject

    assert lift_release_quarantine(release=release, actor=admin_user, reason="Cleared")

    assert len(_simple(client, project)["files"]) == 2
    assert AuditEvent.objects.filter(event_type="project:release:quarantine:exit").count() == 1


@pytest.mark.parametrize("service", [quarantine_project, lift_project_quarantine])
def test_quarantine_and_its_lifting_need_a_reason(project, admin_user, service):
    with pytest.raises(ValueError, match="with a reason"):
        service(project=project, actor=admin_user, reason="  ")


def test_admin_quarantines_and_lifts_projects_with_a_reason(login, project, owner, admin_user):
    client = login(admin_user)
    changelist = reverse("admin:projects_project_changelist")
    selection = {"action": "quarantine_projects", "_selected_action": [project.pk]}

    asked = client.post(changelist, selection)

    assert asked.status_code == 200
    assert "Quarantine the selected projects" in asked.content.decode()
    assert Project.objects.get(pk=project.pk).status == Project.Status.ACTIVE

    without_reason = client.post(changelist, {**selection, "apply": "1", "reason": ""})
    assert without_reason.status_code == 200
    assert Project.objects.get(pk=project.pk).status == Project.Status.ACTIVE

    done = client.post(changelist, {**selection, "apply": "1", "reason": "Malware"}, follow=True)

    assert "Quarantined 1 of 1 projects" in done.content.decode()
    assert Project.objects.get(pk=project.pk).status == Project.Status.QUARANTINED
    event = AuditEvent.objects.get(event_type="project:quarantine:enter")
    assert event.actor == admin_user

    client.post(
        changelist,
        {
            "action": "lift_project_quarantines",
            "_selected_action": [project.pk],
            "apply": "1",
            "reason": "Reviewed: clean",
        },
    )
    assert Project.objects.get(pk=project.pk).status == Project.Status.ACTIVE
    assert AuditEvent.objects.get(event_type="project:quarantine:exit").data["reason"] == (
        "Reviewed: clean"
    )


def test_admin_quarantines_a_release_from_the_release_admin(login, project, admin_user, release):
    client = login(admin_user)
    changelist = reverse("admin:projects_release_changelist")
    assert client.get(changelist).status_code == 200
    change_page = client.get(reverse("admin:projects_release_change", args=[release.pk]))
    assert change_page.status_code == 200

    client.post(
        changelist,
        {
            "action": "quarantine_releases",
            "_selected_action": [release.pk],
            "apply": "1",
            "reason": "Credential stealer",
        },
    )

    release.refresh_from_db()
    assert release.is_quarantined
    assert release.quarantine_reason == "Credential stealer"


def test_staff_without_the_change_permission_cannot_quarantine(login, project):
    from django.contrib.auth.models import Permission  # noqa: PLC0415 - only this test

    viewer = TwoFactorUserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_project"))
    client = login(viewer)
    changelist = reverse("admin:projects_project_changelist")

    response = client.post(
        changelist,
        {
            "action": "quarantine_projects",
            "_selected_action": [project.pk],
            "apply": "1",
            "reason": "x",
        },
    )

    assert response.status_code in {200, 302}
    assert Project.objects.get(pk=project.pk).status == Project.Status.ACTIVE

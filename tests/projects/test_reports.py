"""Reports: signed-in users report a project or a release, the administrators hear of it and
work through the queue in the admin (quarantine or dismiss), and nobody can flood it."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from auditlog.models import AuditEvent
from auditlog.selectors import events_for_project
from index_site.models import OutboxEmail
from projects.models import Project, Release, Report
from projects.services.reports import file_report
from projects.services.status import quarantine_project
from tests.factories import TwoFactorUserFactory, UserFactory
from tests.publishing.oidc.conftest import GITHUB_CONFIG, add_publisher

# However many reports are listed: the joins are named, the files and publishers prefetched.
QUEUE_QUERIES = 8


@pytest.fixture
def reporter(db):
    return UserFactory(username="watchful")


def _report_url(project) -> str:
    return reverse("projects:report", kwargs={"name": project.normalized_name})


def _report(client, project, **data):
    return client.post(
        _report_url(project),
        {"kind": "malware", "description": "setup.py posts ~/.ssh to a remote host", **data},
    )


def test_signed_in_user_reports_a_release_and_the_administrators_are_emailed(
    client, release, reporter, admin_user, settings
):
    settings.ADMINS = [("Security", "security@example.org")]
    project = release.project
    staff_without_permission = TwoFactorUserFactory(is_staff=True)
    client.force_login(reporter)

    response = _report(client, project, version="1.0")

    assert response.status_code == 302
    assert response["Location"] == reverse("projects:detail", kwargs={"name": "widget"})
    report = Report.objects.get()
    assert (report.project, report.release, report.reporter) == (project, release, reporter)
    assert (report.kind, report.state) == ("malware", "open")
    email = OutboxEmail.objects.get(
        template="projects/report_filed", recipient="security@example.org"
    )
    recipients = set(
        OutboxEmail.objects.filter(template="projects/report_filed").values_list(
            "recipient", flat=True
        )
    )
    assert recipients == {"security@example.org", admin_user.email}
    assert staff_without_permission.email not in recipients
    assert "Widget 1.0 reported as malware" in email.subject
    assert "posts ~/.ssh" in email.body_text
    event = AuditEvent.objects.get(event_type="project:report:add")
    assert (event.actor, event.user, event.data["kind"]) == (reporter, reporter, "malware")


def test_the_owners_history_does_not_name_the_reporter(client, project, reporter):
    client.force_login(reporter)
    _report(client, project)

    assert not events_for_project(project).filter(actor_username=reporter.username).exists()


def test_a_report_needs_a_signed_in_user(client, project):
    response = _report(client, project)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert not Report.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "rootkit"},
        {"description": ""},
        {"version": "9.9"},
        {"description": "x" * 5001},
    ],
    ids=["unknown-kind", "no-description", "unknown-version", "too-long"],
)
def test_a_malformed_report_is_refused_and_stores_nothing(client, project, reporter, data):
    client.force_login(reporter)

    response = _report(client, project, **data)

    assert response.status_code == 400
    assert not Report.objects.exists()


def test_a_quarantined_release_cannot_be_chosen(client, project, release, reporter, admin_user):
    release.is_quarantined = True
    release.save()
    client.force_login(reporter)

    assert _report(client, project, version="1.0").status_code == 400


def test_a_quarantined_project_has_nothing_left_to_report(client, project, reporter, admin_user):
    quarantine_project(project=project, actor=admin_user, reason="malware")
    client.force_login(reporter)

    assert client.get(_report_url(project)).status_code == 404
    assert _report(client, project).status_code == 404
    assert not Report.objects.exists()


def test_reports_are_rate_limited_per_user(client, project, reporter, settings):
    settings.PROJECT_REPORT_RATE_LIMIT = "2/h"
    client.force_login(reporter)
    assert [_report(client, project).status_code for _ in range(2)] == [302, 302]

    limited = _report(client, project)

    assert limited.status_code == 429
    assert limited["Retry-After"] == "3600"
    assert "You have sent many reports in a short time." in limited.content.decode()
    assert Report.objects.count() == 2
    # Another user is not held back by this one's reports.
    client.force_login(UserFactory())
    assert _report(client, project).status_code == 302


def test_the_project_page_links_to_the_report_form(client, project, reporter):
    client.force_login(reporter)
    page = client.get(reverse("projects:detail", kwargs={"name": "widget"})).content.decode()
    assert _report_url(project) in page
    form = client.get(_report_url(project))
    assert form.status_code == 200
    assert 'value="typosquatting"' in form.content.decode()


@pytest.mark.parametrize("reports", [2, 40])
def test_the_queue_shows_files_history_and_publishers_in_few_queries(
    login, release, reporter, django_assert_max_num_queries, reports
):
    project = release.project
    admin_user = TwoFactorUserFactory(is_staff=True, is_superuser=True)
    add_publisher(project, **GITHUB_CONFIG)
    for index in range(reports):
        file_report(
            project=project,
            release=release if index % 2 else None,
            reporter=reporter,
            kind="spam",
            description=f"report {index}",
        )
    client = login(admin_user)
    url = reverse("admin:projects_report_changelist")

    with django_assert_max_num_queries(QUEUE_QUERIES):
        response = client.get(url)

    content = response.content.decode()
    assert response.status_code == 200
    assert "widget-1.0-py3-none-any.whl" in content
    assert "1 file</a>" in content
    assert "acme/widget" in content or GITHUB_CONFIG["repository_name"] in content
    assert f"project_pk={project.pk}" in content
    report = Report.objects.first()
    assert client.get(reverse("admin:projects_report_change", args=[report.pk])).status_code == 200


def test_quarantine_from_the_queue_takes_out_what_the_report_names(
    login, project, release, reporter, admin_user
):
    release_report = file_report(
        project=project, release=release, reporter=reporter, kind="malware", description="a"
    )
    other = Project.objects.create(name="Typo", normalized_name="typo")
    project_report = file_report(
        project=other, release=None, reporter=reporter, kind="typosquatting", description="b"
    )
    client = login(admin_user)

    client.post(
        reverse("admin:projects_report_changelist"),
        {
            "action": "quarantine_reports",
            "_selected_action": [release_report.pk, project_report.pk],
            "apply": "1",
            "reason": "Confirmed",
        },
    )

    assert Release.objects.get(pk=release.pk).is_quarantined
    assert Project.objects.get(pk=project.pk).status == Project.Status.ACTIVE
    assert Project.objects.get(pk=other.pk).status == Project.Status.QUARANTINED
    for report in (release_report, project_report):
        report.refresh_from_db()
        assert (report.state, report.resolved_by) == ("quarantined", admin_user)
    release_event = AuditEvent.objects.get(event_type="project:release:quarantine:enter")
    assert release_event.data["report_id"] == release_report.pk
    project_event = AuditEvent.objects.get(event_type="project:quarantine:enter")
    assert project_event.data["report_id"] == project_report.pk


def test_dismissing_a_report_closes_it_and_is_recorded(login, project, reporter, admin_user):
    report = file_report(
        project=project, release=None, reporter=reporter, kind="spam", description="meh"
    )
    client = login(admin_user)
    changelist = reverse("admin:projects_report_changelist")
    selection = {"action": "dismiss_reports", "_selected_action": [report.pk]}

    asked = client.post(changelist, selection)
    assert "Dismiss the selected reports" in asked.content.decode()
    client.post(changelist, {**selection, "apply": "1", "reason": "Not spam"})
    client.post(changelist, {**selection, "apply": "1", "reason": "Twice"})

    report.refresh_from_db()
    assert (report.state, report.resolution_note) == ("dismissed", "Not spam")
    [event] = AuditEvent.objects.filter(event_type="project:report:dismiss")
    assert (event.actor, event.data["reason"]) == (admin_user, "Not spam")
    assert Project.objects.get(pk=project.pk).status == Project.Status.ACTIVE


def test_staff_who_may_only_view_reports_cannot_act_on_them(login, project, reporter):
    report = file_report(
        project=project, release=None, reporter=reporter, kind="spam", description="x"
    )
    viewer = TwoFactorUserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_report"))
    client = login(viewer)

    client.post(
        reverse("admin:projects_report_changelist"),
        {
            "action": "quarantine_reports",
            "_selected_action": [report.pk],
            "apply": "1",
            "reason": "x",
        },
    )

    report.refresh_from_db()
    assert report.state == "open"
    assert Project.objects.get(pk=project.pk).status == Project.Status.ACTIVE

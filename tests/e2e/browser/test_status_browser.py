"""Project status in Chromium: an owner archives from the settings page, a user reports from the
project page, and an administrator quarantines the project from the report queue."""

import json

import pytest

from auditlog.models import AuditEvent
from projects.models import Project, Report
from projects.services.projects import create_project
from projects.services.reports import file_report
from tests.accounts.two_factor.conftest import enable_totp
from tests.e2e.browser.conftest import log_in_with_recovery_code
from tests.factories import FileFactory, ReleaseFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _user(username: str, **fields):
    user = UserFactory(username=username, **fields)
    enable_totp(user)
    return user


def test_owner_archives_and_unarchives_from_the_settings_page(page, site, screenshot):
    owner = _user("archiving-owner")
    project = create_project(name="old-widget", creator=owner)
    log_in_with_recovery_code(page, site, owner)

    page.goto(f"{site}/manage/project/old-widget/settings/")
    page.fill("#archive-reason", "Replaced by new-widget")
    page.get_by_role("button", name="Archive this project").click()

    page.get_by_text("old-widget is archived: uploads are refused").wait_for()
    assert page.get_by_text("Currently: Archived — Replaced by new-widget").is_visible()
    screenshot(page, "status-archived-settings")
    project.refresh_from_db()
    assert project.status == Project.Status.ARCHIVED

    page.get_by_role("button", name="Unarchive: accept uploads again").click()

    page.get_by_text("old-widget is active again").wait_for()
    project.refresh_from_db()
    assert project.status == Project.Status.ACTIVE


def test_user_reports_a_release_from_the_project_page(page, site, screenshot):
    owner = UserFactory(username="suspect-owner")
    project = create_project(name="requets", creator=owner)
    ReleaseFactory(project=project, version="0.1")
    reporter = _user("careful-reader")
    log_in_with_recovery_code(page, site, reporter)

    page.goto(f"{site}/project/requets/")
    page.get_by_role("link", name="Report requets").click()
    page.get_by_label("Typosquatting").check()
    page.select_option("select[name=version]", "0.1")
    page.fill("textarea[name=description]", "A typo of 'requests' that runs a stealer on import.")
    screenshot(page, "status-report-form")
    page.get_by_role("button", name="Send the report").click()

    page.get_by_text("your report on requets was sent to the administrators").wait_for()
    report = Report.objects.get()
    assert (report.kind, report.release.version, report.reporter) == (
        "typosquatting",
        "0.1",
        reporter,
    )


def test_admin_quarantines_a_reported_project_from_the_queue(page, site, screenshot):
    owner = UserFactory(username="malware-owner")
    project = create_project(name="evil-pkg", creator=owner)
    FileFactory(
        release=ReleaseFactory(project=project, version="1.0"), filename="evil_pkg-1.0.tar.gz"
    )
    file_report(
        project=project,
        release=None,
        reporter=UserFactory(),
        kind="malware",
        description="Downloads a second stage from a pastebin.",
    )
    admin = _user("queue-admin", is_staff=True, is_superuser=True)
    log_in_with_recovery_code(page, site, admin)

    page.goto(f"{site}/admin/projects/report/")
    assert page.get_by_text("evil_pkg-1.0.tar.gz").count() == 0  # a project report: a count
    assert page.get_by_role("link", name="1 file").is_visible()
    assert page.get_by_role("link", name="Project history").is_visible()
    screenshot(page, "status-report-queue")
    page.locator("input[name=_selected_action]").first.check()
    page.select_option("select[name=action]", "quarantine_reports")
    page.get_by_role("button", name="Go").click()
    page.wait_for_selector("textarea[name=reason]")
    page.fill("textarea[name=reason]", "Confirmed: second-stage downloader in setup.py.")
    screenshot(page, "status-quarantine-reason")
    page.get_by_role("button", name="Quarantine what the selected reports name").click()

    page.get_by_text("Quarantined what 1 of 1 reports name").wait_for()
    screenshot(page, "status-quarantined")
    project.refresh_from_db()
    assert project.status == Project.Status.QUARANTINED
    assert AuditEvent.objects.get(event_type="project:quarantine:enter").actor == admin
    simple = page.request.get(
        f"{site}/simple/evil-pkg/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    assert json.loads(simple.body())["files"] == []

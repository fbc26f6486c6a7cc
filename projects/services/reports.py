"""Reports of projects and releases (malware, typosquatting, spam, other) and their handling.

A signed-in user files a report (the view rate-limits it per user); the administrators are
emailed and find it in the admin's report queue, where they quarantine what it names or
dismiss it. The reporter's name stays out of the project's history, which its owners read:
the report events are recorded on the reporter's and the administrator's own histories.
"""

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User
from accounts.selectors import verified_primary_email_for_user
from auditlog.events import EventType
from auditlog.services import record_event
from index_site.email import queue_email
from index_site.links import absolute_url
from projects.models import Project, Release, Report
from projects.services.status import quarantine_project, quarantine_release


@transaction.atomic
def file_report(
    *,
    project: Project,
    release: Release | None,
    reporter: User,
    kind: str,
    description: str,
    request: HttpRequest | None = None,
) -> Report:
    """Record `reporter`'s report on `project` (or one of its releases) and email the admins."""
    if release is not None and release.project_id != project.pk:
        raise ValueError("The release must belong to the reported project.")
    report = Report.objects.create(
        project=project,
        release=release,
        reporter=reporter,
        kind=kind,
        description=description.strip(),
    )
    record_event(
        event_type=EventType.PROJECT_REPORT_ADD,
        actor=reporter,
        request=request,
        data={
            "report_id": report.pk,
            "project": project.name,
            "version": release.version if release else "",
            "kind": kind,
        },
    )
    recipients = admin_addresses()
    if recipients:
        queue_email(
            recipients=recipients,
            template="projects/report_filed",
            context={
                "report": report,
                "project": project,
                "release": release,
                "reporter_name": reporter.username,
                "queue_url": absolute_url("admin:projects_report_changelist"),
                "report_url": absolute_url("admin:projects_report_change", report.pk),
                "project_url": absolute_url("projects:detail", name=project.normalized_name),
            },
        )
    return report


def admin_addresses() -> list[str]:
    """Who hears of a new report: settings.ADMINS, and staff who may handle reports."""
    addresses = [address for _name, address in settings.ADMINS]
    staff = User.objects.filter(is_active=True, is_staff=True).order_by("pk")
    for user in staff:
        if not user.has_perm("projects.change_report"):
            continue
        email = verified_primary_email_for_user(user)
        if email is not None:
            addresses.append(email.email)
    return list(dict.fromkeys(addresses))


@transaction.atomic
def quarantine_reported(
    *, report: Report, actor: User, reason: str, request: HttpRequest | None = None
) -> bool:
    """Quarantine what `report` names (its release, else its project) and close the report.

    Return whether anything was newly quarantined; the report is closed either way.
    """
    report = _locked(report)
    if report.release is not None:
        changed = quarantine_release(
            release=report.release, actor=actor, reason=reason, request=request, report_id=report.pk
        )
    else:
        changed = quarantine_project(
            project=report.project, actor=actor, reason=reason, request=request, report_id=report.pk
        )
    _close(report=report, state=Report.State.QUARANTINED, actor=actor, note=reason)
    return changed


@transaction.atomic
def dismiss_report(
    *, report: Report, actor: User, reason: str, request: HttpRequest | None = None
) -> bool:
    """Close `report` without action; return False if it was already closed."""
    report = _locked(report)
    if report.state != Report.State.OPEN:
        return False
    reason = reason.strip()
    _close(report=report, state=Report.State.DISMISSED, actor=actor, note=reason)
    record_event(
        event_type=EventType.PROJECT_REPORT_DISMISS,
        actor=actor,
        request=request,
        data={
            "report_id": report.pk,
            "project": report.project.name,
            "version": report.release.version if report.release else "",
            "reason": reason,
        },
    )
    return True


def _locked(report: Report) -> Report:
    # Only the report's row: its release is an outer join, which PostgreSQL cannot lock.
    return (
        Report.objects.select_for_update(of=("self",))
        .select_related("project", "release")
        .get(pk=report.pk)
    )


def _close(*, report: Report, state: str, actor: User, note: str) -> None:
    report.state = state
    report.resolved_at = timezone.now()
    report.resolved_by = actor
    report.resolution_note = note.strip()
    report.save(update_fields=["state", "resolved_at", "resolved_by", "resolution_note"])

"""Project status (PEP 792): owners archive and deprecate, administrators quarantine.

Owners move their project between active, archived (no more uploads; its files are still
offered) and deprecated (as active, with a banner and an optional successor). Administrators
quarantine a project or one release: installers no longer see it (`offered()` on the release
and file querysets), uploads are refused, and every owner and maintainer is emailed the reason
and how to appeal. Lifting the quarantine restores the status the project had before it. While
a project is quarantined its owners cannot change its status.

Each change locks the row, bumps the project's serial (the index shows it), records its audit
event and queues its emails in one transaction.
"""

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User
from accounts.notifications import email_user
from auditlog.events import EventType
from auditlog.services import record_event
from index_site.links import absolute_url
from projects.models import Project, Release, Role
from projects.services.projects import bump_serial

OWNER_STATUSES = frozenset(
    {Project.Status.ACTIVE, Project.Status.ARCHIVED, Project.Status.DEPRECATED}
)
# Written on quarantine and on lifting it.
_QUARANTINE_FIELDS = [
    "status",
    "status_before_quarantine",
    "quarantine_reason",
    "status_changed_at",
]
_ENTER_EVENTS: dict[str, EventType] = {
    Project.Status.ARCHIVED: EventType.PROJECT_ARCHIVE_ENTER,
    Project.Status.DEPRECATED: EventType.PROJECT_DEPRECATE_ENTER,
}
_EXIT_EVENTS: dict[str, EventType] = {
    Project.Status.ARCHIVED: EventType.PROJECT_ARCHIVE_EXIT,
    Project.Status.DEPRECATED: EventType.PROJECT_DEPRECATE_EXIT,
}


class StatusChangeError(Exception):
    """A status change was refused; `message` says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def appeal_instructions() -> str:
    """How an owner appeals a quarantine: write to the first of settings.ADMINS, if any."""
    if settings.ADMINS:
        return f"write to {settings.ADMINS[0][1]} and say why it should be lifted"
    return f"contact the administrators of {settings.SITE_NAME} and say why it should be lifted"


def quarantined_project_message(project: Project) -> str:
    return (
        f"Project '{project.name}' is quarantined: an administrator is reviewing it, so it "
        f"cannot be changed. If you think this is a mistake, {appeal_instructions()}."
    )


def archived_upload_message(project: Project) -> str:
    return f"Project '{project.name}' is archived; unarchive it to upload."


def upload_refusal(*, project: Project, quarantined_release_version: str | None) -> str | None:
    """Why no file may be added to `project` (or to its release of that version, quarantined),
    or None.

    Read under the upload's project row lock (`projects.services.files.hold_project_for_file`,
    which reads both in its one query), so an archive or quarantine that commits first stops an
    upload in flight.
    """
    if project.status == Project.Status.ARCHIVED:
        return archived_upload_message(project)
    if project.status == Project.Status.QUARANTINED:
        return (
            f"Project '{project.name}' is quarantined: an administrator is reviewing it, so "
            f"uploads are refused. If you think this is a mistake, {appeal_instructions()}."
        )
    if quarantined_release_version is not None:
        return (
            f"Release {quarantined_release_version} of '{project.name}' is quarantined: an "
            "administrator is reviewing it, so no files can be added to it. Publish a new "
            f"version, or if you think this is a mistake, {appeal_instructions()}."
        )
    return None


@transaction.atomic
def set_project_status(
    *,
    project: Project,
    status: str,
    actor: User,
    reason: str = "",
    successor: Project | None = None,
    request: HttpRequest | None = None,
) -> bool:
    """Set an owner-chosen status (active, archived, deprecated); return whether it changed.

    `successor` is kept only for a deprecated project. Raise StatusChangeError while the
    project is quarantined, and for a successor that is the project itself or quarantined.
    Every owner and maintainer is emailed the change.
    """
    if status not in OWNER_STATUSES:
        raise ValueError(f"Owners cannot set the status {status!r}.")
    project = Project.objects.select_for_update().get(pk=project.pk)
    if project.status == Project.Status.QUARANTINED:
        raise StatusChangeError(quarantined_project_message(project))
    reason = reason.strip()
    if status != Project.Status.DEPRECATED:
        successor = None
    if successor is not None:
        successor = Project.objects.get(pk=successor.pk)  # its status as of now
    if successor is not None and successor.pk == project.pk:
        raise StatusChangeError(
            "A project cannot be its own successor. Name the project that replaces it, or "
            "leave the successor empty."
        )
    if successor is not None and successor.status == Project.Status.QUARANTINED:
        raise StatusChangeError(
            f"Project '{successor.name}' is quarantined, so it cannot be named as the "
            "successor. Name another project, or leave the successor empty."
        )
    previous = project.status
    if (previous, project.status_reason, project.successor_id) == (
        status,
        reason,
        successor.pk if successor else None,
    ):
        return False
    project.status = status
    project.status_reason = reason
    project.successor = successor
    project.status_changed_at = timezone.now()
    project.save(update_fields=["status", "status_reason", "successor", "status_changed_at"])
    bump_serial(project=project)
    data = {"status": status, "previous_status": previous, "reason": reason}
    if successor is not None:
        data["successor"] = successor.name
    if previous != status and previous in _EXIT_EVENTS:
        record_event(
            event_type=_EXIT_EVENTS[previous],
            actor=actor,
            request=request,
            project=project,
            data=data,
        )
    if status in _ENTER_EVENTS:
        record_event(
            event_type=_ENTER_EVENTS[status],
            actor=actor,
            request=request,
            project=project,
            data=data,
        )
    _email_collaborators(
        project=project,
        template="projects/status_changed",
        context={
            "status": status,
            "previous_status": previous,
            "reason": reason,
            "successor": successor,
            "actor_name": actor.username,
        },
    )
    return True


@transaction.atomic
def quarantine_project(
    *,
    project: Project,
    actor: User,
    reason: str,
    request: HttpRequest | None = None,
    report_id: int | None = None,
) -> bool:
    """Quarantine `project` (an administrator); return False if it already was.

    Its releases leave the index and downloads at once; every owner and maintainer is emailed
    `reason` and how to appeal. `report_id` names the report that led to it, if any.
    """
    reason = _required(reason)
    project = Project.objects.select_for_update().get(pk=project.pk)
    if project.status == Project.Status.QUARANTINED:
        return False
    previous = project.status
    _save_quarantine(project, status=Project.Status.QUARANTINED, before=previous, reason=reason)
    _quarantine_changed(
        project=project,
        event_type=EventType.PROJECT_QUARANTINE_ENTER,
        actor=actor,
        request=request,
        data={"reason": reason, "previous_status": previous, "report_id": report_id},
        template="projects/quarantined",
        context={"release": None, "appeal": appeal_instructions()},
    )
    return True


@transaction.atomic
def lift_project_quarantine(
    *, project: Project, actor: User, reason: str, request: HttpRequest | None = None
) -> bool:
    """Lift the quarantine of `project`; return False if it was not quarantined.

    The project returns to the status it had before (archived stays archived), its files are
    offered again, and every owner and maintainer is emailed.
    """
    reason = _required(reason)
    project = Project.objects.select_for_update().get(pk=project.pk)
    if project.status != Project.Status.QUARANTINED:
        return False
    restored = project.status_before_quarantine or Project.Status.ACTIVE
    _save_quarantine(project, status=restored, before="", reason="")
    _quarantine_changed(
        project=project,
        event_type=EventType.PROJECT_QUARANTINE_EXIT,
        actor=actor,
        request=request,
        data={"reason": reason, "status": restored},
        template="projects/quarantine_lifted",
        context={"release": None, "status": restored},
    )
    return True


@transaction.atomic
def quarantine_release(
    *,
    release: Release,
    actor: User,
    reason: str,
    request: HttpRequest | None = None,
    report_id: int | None = None,
) -> bool:
    """Quarantine one release (an administrator); return False if it already was.

    Its files leave the index and downloads; the project's other releases and its status are
    unchanged. Every owner and maintainer is emailed `reason` and how to appeal.
    """
    return _set_release_quarantine(
        release=release,
        quarantined=True,
        actor=actor,
        reason=reason,
        request=request,
        report_id=report_id,
    )


@transaction.atomic
def lift_release_quarantine(
    *, release: Release, actor: User, reason: str, request: HttpRequest | None = None
) -> bool:
    """Lift the quarantine of one release; return False if it was not quarantined."""
    return _set_release_quarantine(
        release=release, quarantined=False, actor=actor, reason=reason, request=request
    )


def _set_release_quarantine(
    *,
    release: Release,
    quarantined: bool,
    actor: User,
    reason: str,
    request: HttpRequest | None,
    report_id: int | None = None,
) -> bool:
    reason = _required(reason)
    release = Release.objects.select_for_update().select_related("project").get(pk=release.pk)
    if release.is_quarantined == quarantined:
        return False
    release.is_quarantined = quarantined
    release.quarantine_reason = reason if quarantined else ""
    release.save(update_fields=["is_quarantined", "quarantine_reason"])
    data: dict = {"version": release.version, "reason": reason}
    if quarantined:
        data["report_id"] = report_id
    _quarantine_changed(
        project=release.project,
        event_type=(
            EventType.PROJECT_RELEASE_QUARANTINE_ENTER
            if quarantined
            else EventType.PROJECT_RELEASE_QUARANTINE_EXIT
        ),
        actor=actor,
        request=request,
        data=data,
        template="projects/quarantined" if quarantined else "projects/quarantine_lifted",
        context={"release": release, "appeal": appeal_instructions()},
    )
    return True


def _save_quarantine(project: Project, *, status: str, before: str, reason: str) -> None:
    project.status = status
    project.status_before_quarantine = before
    project.quarantine_reason = reason
    project.status_changed_at = timezone.now()
    project.save(update_fields=_QUARANTINE_FIELDS)


def _quarantine_changed(
    *,
    project: Project,
    event_type: EventType,
    actor: User,
    request: HttpRequest | None,
    data: dict,
    template: str,
    context: dict,
) -> None:
    """What every quarantine change does: bump the serial, record the event, email the team."""
    bump_serial(project=project)
    record_event(event_type=event_type, actor=actor, request=request, project=project, data=data)
    _email_collaborators(
        project=project, template=template, context={"reason": data["reason"], **context}
    )


def _required(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ValueError("A quarantine is only set or lifted with a reason for the owners.")
    return reason


def _email_collaborators(*, project: Project, template: str, context: dict) -> None:
    """Email every active owner and maintainer of `project`, each told their role."""
    roles = (
        Role.objects.filter(project=project, user__is_active=True)
        .select_related("user")
        .order_by("user__username")
    )
    links = {
        "project_url": absolute_url("projects:detail", name=project.normalized_name),
        "settings_url": absolute_url("projects:settings", name=project.normalized_name),
        "history_url": absolute_url("projects:history", name=project.normalized_name),
    }
    for role in roles:
        email_user(
            user=role.user,
            template=template,
            context={"project": project, "role": role.role, **links, **context},
        )

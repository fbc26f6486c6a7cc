"""Deleting files, releases and projects, with the rules that protect the people using them.

Owners delete a file within DELETION_WINDOW_HOURS of its upload, and a pre-release's files at
any time; a release is deletable when all its files are, a project when all its releases are.
After that the only remedy is a yank: a release others may have pinned does not vanish (PEP
763's rule, crates.io's and npm's). Administrators delete at any time, always with a reason.

Filenames stay in the FilenameRegistry, so a deleted file's name can never be uploaded again.
The rows go in one transaction with their audit events, the serial bump and the emails; the
stored objects are removed after COMMIT, each by its exact key (the File's path and that path
+ ".metadata"), never by prefix. A storage failure then leaves the object, which no row
references any more, for the orphan sweep (`files.delete_orphaned_files`): a row never outlives
its object. A project its owners deleted keeps its name for them for
DELETED_NAME_RESERVATION_DAYS.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q, Sum
from django.http import HttpRequest
from django.utils import timezone
from packaging.version import InvalidVersion, Version

from accounts.models import User
from auditlog.events import EventType
from auditlog.services import record_event
from index_site.links import absolute_url
from projects.exceptions import ProjectNameError, ReleaseChangeError
from projects.models import DeletedProjectName, File, Project, Release, Role
from projects.names import normalize_project_name, ultranormalize_project_name
from projects.services.collaborator_emails import email_collaborators
from projects.services.files import METADATA_SUFFIX
from projects.services.projects import bump_serial
from projects.services.yank import lock_release, quarantine_refusal

logger = logging.getLogger(__name__)


def is_prerelease(version: str) -> bool:
    """Whether `version` is a PEP 440 pre- or development release (deletable at any time)."""
    try:
        return Version(version).is_prerelease
    except InvalidVersion:
        return False


def deletion_deadline(file: File) -> datetime:
    """Until when the owners may delete `file` (unless its release is a pre-release)."""
    return file.uploaded_at + timedelta(hours=settings.DELETION_WINDOW_HOURS)


def file_deletion_refusal(
    file: File, release: Release, *, now: datetime | None = None
) -> str | None:
    """Why the owners may no longer delete `file` of `release`, or None when they may."""
    if is_prerelease(release.version) or (now or timezone.now()) <= deletion_deadline(file):
        return None
    return (
        f"'{file.filename}' was uploaded on {file.uploaded_at:%Y-%m-%d %H:%M} UTC, more than "
        f"{settings.DELETION_WINDOW_HOURS} hours ago, so it can no longer be deleted: people may "
        "depend on it. Yank the release instead; installers then skip it unless they pin it "
        "exactly."
    )


def release_deletion_refusal(release: Release, *, now: datetime | None = None) -> str | None:
    """Why the owners may no longer delete `release`, or None: deletable if all its files are."""
    refusal = quarantine_refusal(release)
    if refusal:
        return refusal
    now = now or timezone.now()
    late = [file for file in release.files.all() if file_deletion_refusal(file, release, now=now)]
    if not late:
        return None
    return (
        f"Release '{release.version}' has files uploaded more than "
        f"{settings.DELETION_WINDOW_HOURS} hours ago ({late[0].filename}), so it can no longer "
        "be deleted: people may depend on it. Yank it instead; installers then skip it unless "
        "they pin it exactly."
    )


def project_deletion_refusal(project: Project, *, now: datetime | None = None) -> str | None:
    """Why the owners may no longer delete `project`, or None: deletable if all releases are."""
    if project.status == Project.Status.QUARANTINED:
        return (
            f"Project '{project.name}' is quarantined while the site administrators review it, "
            "so it cannot be deleted. If you think this is a mistake, reply to the quarantine "
            "email or contact the administrators to appeal."
        )
    now = now or timezone.now()
    releases = (
        Release.objects.filter(project=project).select_related("project").prefetch_related("files")
    )
    late = [release for release in releases if release_deletion_refusal(release, now=now)]
    if not late:
        return None
    versions = ", ".join(release.version for release in late[:3])
    return (
        f"Project '{project.name}' has releases that can no longer be deleted ({versions}): "
        f"their files were uploaded more than {settings.DELETION_WINDOW_HOURS} hours ago and "
        "people may depend on them. Yank those releases instead."
    )


@dataclass(frozen=True)
class _Removal:
    """Who deletes, and why: owners within the window, administrators at any time."""

    actor: User
    by_admin: bool
    reason: str
    request: HttpRequest | None

    @property
    def event_data(self) -> dict[str, Any]:
        return {
            "by": "admin" if self.by_admin else "owner",
            "removed_by": self.actor.username,
            "reason": self.reason,
        }


def _removal(*, actor: User, by_admin: bool, reason: str, request: HttpRequest | None) -> _Removal:
    reason = " ".join(reason.split())
    if by_admin and not reason:
        raise ValueError("An administrator deletes only with a reason for the owners.")
    return _Removal(actor=actor, by_admin=by_admin, reason=reason, request=request)


@transaction.atomic
def delete_file(
    *,
    file: File,
    actor: User,
    request: HttpRequest | None = None,
    by_admin: bool = False,
    reason: str = "",
) -> None:
    """Delete one file of a release; its name stays taken forever.

    Owners (`by_admin` False) only within the window (see `file_deletion_refusal`); an
    administrator at any time with a `reason` (ValueError without one). Raise
    ReleaseChangeError when the owners may not delete it.
    """
    removal = _removal(actor=actor, by_admin=by_admin, reason=reason, request=request)
    release = lock_release(file.release)
    file = File.objects.get(pk=file.pk, release=release)
    if not by_admin:
        refusal = quarantine_refusal(release) or file_deletion_refusal(file, release)
        if refusal:
            raise ReleaseChangeError(refusal)
    record_event(
        event_type=EventType.PROJECT_FILE_REMOVE,
        actor=actor,
        request=request,
        project=release.project,
        data={
            **removal.event_data,
            "version": release.version,
            "filename": file.filename,
            "sha256_digest": file.sha256_digest,
        },
    )
    _delete_files(release.project, [file])
    _notify(
        project=release.project,
        removal=removal,
        context={"version": release.version, "filenames": [file.filename], "whole_release": False},
    )


@transaction.atomic
def delete_release(
    *,
    release: Release,
    actor: User,
    request: HttpRequest | None = None,
    by_admin: bool = False,
    reason: str = "",
) -> None:
    """Delete a release with all its files; the filenames stay taken, the version may return.

    Owners only when every file is within the window (see `release_deletion_refusal`); an
    administrator at any time with a `reason`. Raise ReleaseChangeError when refused.
    """
    removal = _removal(actor=actor, by_admin=by_admin, reason=reason, request=request)
    release = lock_release(release)
    if not by_admin:
        refusal = release_deletion_refusal(release)
        if refusal:
            raise ReleaseChangeError(refusal)
    files = list(release.files.order_by("filename"))
    filenames = [file.filename for file in files]
    record_event(
        event_type=EventType.PROJECT_RELEASE_REMOVE,
        actor=actor,
        request=request,
        project=release.project,
        data={**removal.event_data, "version": release.version, "filenames": filenames},
    )
    _delete_files(release.project, files)
    release.delete()
    _notify(
        project=release.project,
        removal=removal,
        context={"version": release.version, "filenames": filenames, "whole_release": True},
    )


def delete_project(
    *, project: Project, actor: User, request: HttpRequest | None = None, reason: str
) -> None:
    """Remove `project` as an administrator, at any time, with a `reason` (ValueError without).

    The name is not reserved: an administrator removes a project to take it down, and
    prohibits the name (ProhibitedProjectName) when nobody should take it again.
    """
    _delete_project(
        project=project,
        removal=_removal(actor=actor, by_admin=True, reason=reason, request=request),
    )


def delete_own_project(
    *, project: Project, actor: User, request: HttpRequest | None = None
) -> None:
    """Delete `project` as its owner: only when every release is deletable (ReleaseChangeError
    otherwise); the name stays reserved for its owners for DELETED_NAME_RESERVATION_DAYS."""
    _delete_project(
        project=project, removal=_removal(actor=actor, by_admin=False, reason="", request=request)
    )


@transaction.atomic
def _delete_project(*, project: Project, removal: _Removal) -> None:
    """Delete the project with its releases, files, roles and invitations.

    The `project:remove` event keeps the name, counts and owners after the row is gone; every
    active owner and maintainer is emailed.
    """
    project = Project.objects.select_for_update().get(pk=project.pk)
    if not removal.by_admin:
        refusal = project_deletion_refusal(project)
        if refusal:
            raise ReleaseChangeError(refusal)
    roles = list(
        Role.objects.filter(project=project, user__is_active=True)
        .select_related("user")
        .order_by("user__username")
    )
    owners = [role.user for role in roles if role.role == Role.Kind.OWNER]
    files = list(File.objects.filter(release__project=project))
    release_count = Release.objects.filter(project=project).count()
    record_event(
        event_type=EventType.PROJECT_REMOVE,
        actor=removal.actor,
        request=removal.request,
        project=project,
        data={
            **removal.event_data,
            "name": project.name,
            "normalized_name": project.normalized_name,
            "owners": [owner.username for owner in owners],
            "release_count": release_count,
            "file_count": len(files),
        },
    )
    reserved_until = None
    if not removal.by_admin:
        reserved_until = _reserve_name(project=project, owners=owners)
    email_collaborators(
        project=project,
        actor=removal.actor,
        template="projects/project_removed",
        context={
            "by_admin": removal.by_admin,
            "reason": removal.reason,
            "release_count": release_count,
            "file_count": len(files),
            "reserved_until": reserved_until,
            "projects_url": absolute_url("projects:mine"),
            "history_url": absolute_url("accounts:security_history"),
        },
    )
    _remove_stored_objects_on_commit(files)
    project.delete()


def _reserve_name(*, project: Project, owners: list[User]) -> datetime:
    now = timezone.now()
    reserved_until = now + timedelta(days=settings.DELETED_NAME_RESERVATION_DAYS)
    reservation, _created = DeletedProjectName.objects.update_or_create(
        normalized_name=project.normalized_name,
        defaults={
            "ultranormalized_name": ultranormalize_project_name(project.name),
            "name": project.name,
            "deleted_at": now,
            "reserved_until": reserved_until,
        },
    )
    reservation.former_owners.set(owners)
    return reserved_until


def check_name_not_reserved(*, name: str, user: User | None) -> None:
    """Refuse a new project called `name` (or a name too similar) that a deleted project's
    owners still hold, unless `user` was one of them: raise ProjectNameError (code "reserved")."""
    reservations = DeletedProjectName.objects.filter(
        Q(normalized_name=normalize_project_name(name))
        | Q(ultranormalized_name=ultranormalize_project_name(name)),
        reserved_until__gt=timezone.now(),
    )
    if user is not None:
        reservations = reservations.exclude(former_owners=user)
    reservation = reservations.order_by("-reserved_until").first()
    if reservation is None:
        return
    raise ProjectNameError(
        f"The name {name!r} is reserved until {reservation.reserved_until:%Y-%m-%d %H:%M} UTC "
        f"for the owners of the deleted project '{reservation.name}'. Choose a different name, "
        "or ask one of those owners to upload it.",
        code="reserved",
    )


def _delete_files(project: Project, files: list[File]) -> None:
    """Delete the rows (the registry keeps their names), shrink the project, bump its serial."""
    size = File.objects.filter(pk__in=[file.pk for file in files]).aggregate(total=Sum("size"))
    File.objects.filter(pk__in=[file.pk for file in files]).delete()
    bump_serial(project=project, size_change=-(size["total"] or 0))
    _remove_stored_objects_on_commit(files)


def _remove_stored_objects_on_commit(files: list[File]) -> None:
    """After COMMIT, delete each file's objects by their exact keys; never before, so a
    rolled-back deletion keeps them."""
    paths = []
    for file in files:
        paths.append(file.path)
        if file.metadata_sha256_digest:
            paths.append(file.path + METADATA_SUFFIX)
    if paths:
        transaction.on_commit(lambda: remove_stored_objects(paths))


def remove_stored_objects(paths: list[str]) -> int:
    """Delete the objects at exactly `paths`; return how many deletions the storage accepted.

    A failure is logged and the object left: no row references it any more, so the orphan
    sweep deletes it later.
    """
    removed = 0
    for path in paths:
        try:
            default_storage.delete(path)
        except Exception:  # noqa: BLE001 - any storage error: the orphan sweep retries it
            logger.warning(
                "Deleting a stored object failed; left for the orphan sweep",
                extra={"path": path},
            )
        else:
            removed += 1
    return removed


def _notify(*, project: Project, removal: _Removal, context: dict[str, Any]) -> None:
    """Email every collaborator which files were deleted, by whom and why."""
    email_collaborators(
        project=project,
        actor=removal.actor,
        template="projects/files_deleted",
        context={
            **context,
            "by_admin": removal.by_admin,
            "reason": removal.reason,
            "releases_url": absolute_url("projects:releases", name=project.normalized_name),
            "history_url": absolute_url("projects:history", name=project.normalized_name),
        },
    )

"""Yanking and un-yanking a release (PEP 592): owners and maintainers, every collaborator told.

A yanked release stays listed and downloadable, marked with its reason in the simple index, so
installers skip it unless it is pinned exactly (`name==version`) and then warn with the reason.
Each change bumps the project's serial and records its audit event in the same transaction;
the emails go through the outbox in that transaction too.
"""

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User
from auditlog.events import EventType
from auditlog.services import record_event
from index_site.links import absolute_url
from projects.exceptions import ReleaseChangeError
from projects.models import Project, Release
from projects.services.collaborator_emails import email_collaborators
from projects.services.projects import bump_serial

YANK_REASON_MAX_LENGTH = 500


def quarantine_refusal(release: Release) -> str | None:
    """Why owners may not change `release` while an administrator reviews it, or None."""
    if release.project.status == Project.Status.QUARANTINED:
        subject = f"Project '{release.project.name}' is"
    elif release.is_quarantined:
        subject = f"Release '{release.version}' of {release.project.name} is"
    else:
        return None
    return (
        f"{subject} quarantined while the site administrators review it, so it cannot be "
        "yanked, un-yanked or deleted. If you think this is a mistake, reply to the quarantine "
        "email or contact the administrators to appeal."
    )


def lock_release(release: Release) -> Release:
    """The release read again under its project's row lock (the lock uploads take)."""
    Project.objects.select_for_update().get(pk=release.project_id)
    return Release.objects.select_related("project").get(pk=release.pk)


def yank_release(
    *, release: Release, actor: User, reason: str = "", request: HttpRequest | None = None
) -> bool:
    """Yank `release` with an optional `reason`; return whether anything changed.

    Yanking a yanked release again only replaces its reason. Raise ReleaseChangeError when the
    release or its project is quarantined.
    """
    reason = " ".join(reason.split())[:YANK_REASON_MAX_LENGTH]
    return _set_yanked(release=release, actor=actor, request=request, yanked=True, reason=reason)


def unyank_release(*, release: Release, actor: User, request: HttpRequest | None = None) -> bool:
    """Un-yank `release`, clearing its reason; return whether it was yanked.

    Raise ReleaseChangeError when the release or its project is quarantined.
    """
    return _set_yanked(release=release, actor=actor, request=request, yanked=False, reason="")


@transaction.atomic
def _set_yanked(
    *, release: Release, actor: User, request: HttpRequest | None, yanked: bool, reason: str
) -> bool:
    release = lock_release(release)
    refusal = quarantine_refusal(release)
    if refusal:
        raise ReleaseChangeError(refusal)
    if release.yanked == yanked and release.yanked_reason == reason:
        return False
    release.yanked = yanked
    release.yanked_reason = reason
    release.yanked_at = timezone.now() if yanked else None
    release.save(update_fields=["yanked", "yanked_reason", "yanked_at"])
    bump_serial(project=release.project)
    data = {"version": release.version, "canonical_version": release.canonical_version}
    if yanked:
        data.update(reason=reason, yanked_by=actor.username)
    else:
        data.update(unyanked_by=actor.username)
    record_event(
        event_type=EventType.PROJECT_RELEASE_YANK if yanked else EventType.PROJECT_RELEASE_UNYANK,
        actor=actor,
        request=request,
        project=release.project,
        data=data,
    )
    _notify_collaborators(
        release=release,
        actor=actor,
        template="projects/release_yanked" if yanked else "projects/release_unyanked",
        reason=reason,
    )
    return True


def _notify_collaborators(
    *, release: Release, actor: User, template: str, reason: str = ""
) -> None:
    project = release.project
    email_collaborators(
        project=project,
        actor=actor,
        template=template,
        context={
            "version": release.version,
            "released_on": release.created_at.date().isoformat(),
            "reason": reason,
            "release_url": absolute_url(
                "projects:manage_release", name=project.normalized_name, version=release.version
            ),
            "history_url": absolute_url("projects:history", name=project.normalized_name),
        },
    )

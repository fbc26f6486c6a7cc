"""Writes on projects themselves: creation and owner-controlled settings."""

from django.db import IntegrityError, transaction
from django.http import HttpRequest

from accounts.models import User
from auditlog.events import EventType
from auditlog.services import record_event
from projects.models import Project, Role
from projects.names import (
    conflict_error,
    ultranormalize_project_name,
    validate_project_name,
)


@transaction.atomic
def create_project(
    *, name: str, creator: User, request: HttpRequest | None = None, via: str | None = None
) -> Project:
    """Create the project `name` with `creator` as its Owner and record both events.

    `via` says how it was created (for example "upload" or "trusted publishing") and is kept in
    the audit event. Raise ProjectNameError when the name is refused or taken, including when a
    concurrent request created the same normalized name first.
    """
    normalized = validate_project_name(name)
    try:
        # A savepoint, so a lost race leaves the caller's transaction usable.
        with transaction.atomic():
            project = Project.objects.create(
                name=name,
                normalized_name=normalized,
                ultranormalized_name=ultranormalize_project_name(name),
            )
    except IntegrityError:
        raise conflict_error(name) from None
    record_event(
        event_type=EventType.PROJECT_CREATE,
        actor=creator,
        request=request,
        project=project,
        data={"created_by": creator.username, "via": via or "web"},
    )
    Role.objects.create(project=project, user=creator, role=Role.Kind.OWNER)
    record_event(
        event_type=EventType.PROJECT_ROLE_ADD,
        actor=creator,
        request=request,
        project=project,
        data={"role": Role.Kind.OWNER, "target_user": creator.username, "via": via or "web"},
    )
    return project


@transaction.atomic
def set_trusted_publishing_only(
    *, project: Project, enabled: bool, actor: User, request: HttpRequest | None = None
) -> bool:
    """Turn the "trusted publishing only" switch on or off; return whether it changed."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    if project.is_trusted_publishing_only == enabled:
        return False
    project.is_trusted_publishing_only = enabled
    project.save(update_fields=["is_trusted_publishing_only"])
    record_event(
        event_type=EventType.PROJECT_TRUSTED_PUBLISHING_ONLY_CHANGE,
        actor=actor,
        request=request,
        project=project,
        data={"enabled": enabled},
    )
    return True


@transaction.atomic
def set_project_limits(
    *,
    project: Project,
    upload_limit: int | None,
    total_size_limit: int | None,
    actor: User,
    request: HttpRequest | None = None,
) -> bool:
    """Set a project's own file and total size limits (admins); return whether they changed.

    None means the site default. The limits only ever raise the site defaults (see
    projects.services.files).
    """
    project = Project.objects.select_for_update().get(pk=project.pk)
    previous = {"upload_limit": project.upload_limit, "total_size_limit": project.total_size_limit}
    current = {"upload_limit": upload_limit, "total_size_limit": total_size_limit}
    if previous == current:
        return False
    project.upload_limit = upload_limit
    project.total_size_limit = total_size_limit
    project.save(update_fields=["upload_limit", "total_size_limit"])
    record_event(
        event_type=EventType.PROJECT_UPLOAD_LIMIT_CHANGE,
        actor=actor,
        request=request,
        project=project,
        data={
            "upload_limit": upload_limit,
            "previous_upload_limit": previous["upload_limit"],
            "total_size_limit": total_size_limit,
            "previous_total_size_limit": previous["total_size_limit"],
        },
    )
    return True


@transaction.atomic
def set_project_critical(
    *, project: Project, is_critical: bool, actor: User | None, request: HttpRequest | None = None
) -> bool:
    """Flag or unflag a project as critical (its maintainers then need 2FA under "critical")."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    if project.is_critical == is_critical:
        return False
    project.is_critical = is_critical
    project.save(update_fields=["is_critical"])
    if is_critical:
        record_event(
            event_type=EventType.PROJECT_CRITICAL_ENTER,
            actor=actor,
            request=request,
            project=project,
            data={"by": "admin" if actor is not None else "system"},
        )
    return True

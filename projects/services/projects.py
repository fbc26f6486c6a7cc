"""Writes on projects themselves: creation and owner-controlled settings."""

from django.db import IntegrityError, transaction
from django.http import HttpRequest

from accounts.models import User
from auditlog.events import EventType
from auditlog.services import record_event
from projects.models import Project, Role
from projects.names import conflict_error, validate_project_name


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
            project = Project.objects.create(name=name, normalized_name=normalized)
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

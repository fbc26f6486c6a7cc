"""Writes on projects themselves: creation, owner-controlled settings, admin flags."""

from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest

from accounts.models import User
from accounts.notifications import email_user
from accounts.selectors import has_two_factor
from auditlog.events import EventType
from auditlog.services import record_event
from index_site.links import absolute_url
from projects.models import Project, Role
from projects.names import (
    conflict_error,
    normalize_project_name,
    ultranormalize_project_name,
    validate_project_name,
)


@transaction.atomic
def create_project(
    *,
    name: str,
    creator: User,
    request: HttpRequest | None = None,
    via: str | None = None,
    validated_name: str | None = None,
) -> Project:
    """Create the project `name` with `creator` as its Owner and record both events.

    `via` says how it was created (for example "upload" or "trusted publishing") and is kept in
    the audit event. Raise ProjectNameError when the name is refused or taken, including when a
    concurrent request created the same normalized name first. A caller that has just run
    `validate_project_name(name)` in this request (the upload does, before it reads the
    archive) passes its result as `validated_name`, so the name policy's queries run once; the
    unique normalized name still refuses a name taken since.
    """
    if validated_name is None:
        normalized = validate_project_name(name)
    elif validated_name == normalize_project_name(name):
        normalized = validated_name
    else:
        raise ValueError("validated_name must be what validate_project_name(name) returned.")
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


def require_transaction(service: str) -> None:
    """Refuse to run `service` outside a transaction: its writes commit with the caller's."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(f"{service} must run inside the transaction making the change.")


# One statement for both columns: an upload or a deletion changes the project's size in the same
# change that bumps its serial, and the ORM's compilation of an UPDATE cost more CPU than
# PostgreSQL running it. Named after the model's table.
_BUMP_SERIAL_SQL = (
    "UPDATE {project} SET serial = serial + 1, total_size = total_size + %s WHERE id = %s"
)


def bump_serial(*, project: Project, size_change: int = 0) -> None:
    """Mark a change the index shows (a file added, and any yank, delete or status change).

    Call it inside the transaction that makes the change: the new serial becomes visible in
    the same COMMIT as the change, so a reader that sees the new serial renders the new state,
    and cached documents of older serials are simply never asked for again (projects.documents).
    `size_change` (bytes added, or removed when negative) is added to the project's total size
    in the same statement. Relative to the row's values, so concurrent changes each add theirs
    without reading the row first.
    """
    require_transaction("bump_serial")
    with connection.cursor() as cursor:
        cursor.execute(
            _BUMP_SERIAL_SQL.format(project=Project._meta.db_table), [size_change, project.pk]
        )


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

    None means the site default; a value replaces it, above or below (see
    `projects.services.files.file_size_limit`).
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
    *,
    project: Project,
    is_critical: bool,
    actor: User | None,
    request: HttpRequest | None = None,
    downloads: int | None = None,
    reason: str = "",
) -> bool:
    """Flag or unflag a project as critical; return whether it changed.

    `actor` None means the daily computation (`projects.services.critical`), which passes the
    project's `downloads` over the window; otherwise an administrator made the change and gives
    the `reason` for flagging (recorded, and told to the maintainers). Entering emails every
    owner and maintainer what it means and what to do; leaving is only recorded (only an
    administrator un-flags a project).
    """
    project = Project.objects.select_for_update().get(pk=project.pk)
    if project.is_critical == is_critical:
        return False
    project.is_critical = is_critical
    project.save(update_fields=["is_critical"])
    by = "admin" if actor is not None else "system"
    if not is_critical:
        record_event(
            event_type=EventType.PROJECT_CRITICAL_EXIT,
            actor=actor,
            request=request,
            project=project,
            data={"by": by},
        )
        return True
    data: dict[str, Any] = {"by": by}
    reason = reason.strip()
    if reason:
        data["reason"] = reason
    if actor is None:
        data.update(
            downloads=downloads,
            window_days=settings.CRITICAL_PROJECTS_WINDOW_DAYS,
            top_percent=settings.CRITICAL_PROJECTS_TOP_PERCENT,
        )
    record_event(
        event_type=EventType.PROJECT_CRITICAL_ENTER,
        actor=actor,
        request=request,
        project=project,
        data=data,
    )
    _notify_project_critical(project=project, by_admin=actor is not None, reason=reason)
    return True


def _notify_project_critical(*, project: Project, by_admin: bool, reason: str) -> None:
    """Email every active owner and maintainer that `project` is now critical.

    Each email says whether the recipient already has a second factor, since what they must do
    depends on it (and, under the "critical" policy, on the project now being critical).
    """
    roles = (
        Role.objects.filter(project=project, user__is_active=True)
        .select_related("user")
        .order_by("user__username")
    )
    context = {
        "project": project,
        "by_admin": by_admin,
        "reason": reason,
        "critical_help_url": absolute_url("help") + "#critical-projects",
        "top_percent": f"{settings.CRITICAL_PROJECTS_TOP_PERCENT:g}",
        "window_days": settings.CRITICAL_PROJECTS_WINDOW_DAYS,
        "policy_is_critical": settings.TWO_FACTOR_POLICY == "critical",
        "project_url": absolute_url("projects:detail", name=project.normalized_name),
        "two_factor_url": absolute_url("accounts:two_factor"),
        "publishing_url": absolute_url("publishing:project", name=project.normalized_name),
        "settings_url": absolute_url("projects:settings", name=project.normalized_name),
        "projects_url": absolute_url("projects:mine"),
    }
    for role in roles:
        email_user(
            user=role.user,
            template="projects/project_critical",
            context={
                **context,
                "role": role.role,
                "is_owner": role.role == Role.Kind.OWNER,
                "has_two_factor": has_two_factor(role.user),
            },
        )

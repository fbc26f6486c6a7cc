"""One email to every active owner and maintainer of a project, each told their own role."""

from typing import Any

from accounts.models import User
from accounts.notifications import email_user
from projects.models import Project, Role


def email_collaborators(
    *, project: Project, actor: User, template: str, context: dict[str, Any]
) -> None:
    """Queue `template` to each active collaborator with `role` (theirs) and `actor_role`."""
    roles = list(
        Role.objects.filter(project=project, user__is_active=True)
        .select_related("user")
        .order_by("user__username")
    )
    actor_role = next((role.role for role in roles if role.user_id == actor.pk), "")
    for role in roles:
        email_user(
            user=role.user,
            template=template,
            context={
                **context,
                "project_name": project.name,
                "actor_username": actor.username,
                "actor_role": actor_role,
                "role": role.role,
            },
        )

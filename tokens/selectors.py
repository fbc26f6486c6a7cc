"""Reads on API tokens, with their joins named."""

from django.db.models import Prefetch, QuerySet

from accounts.models import User
from projects.models import Project
from projects.selectors import UPLOAD_ROLES
from tokens.models import ApiToken


def tokens_for_user(user: User) -> QuerySet[ApiToken]:
    """The user's tokens, newest first, with their scoped projects."""
    return (
        ApiToken.objects.filter(user=user)
        .prefetch_related(
            Prefetch("projects", queryset=Project.objects.order_by("normalized_name"))
        )
        .order_by("-created_at")
    )


def get_token_for_user(user: User, token_id) -> ApiToken | None:
    """The user's own token `token_id`, or None (also for another user's token)."""
    return ApiToken.objects.filter(user=user, pk=token_id).first()


def scopable_projects_for_user(user: User) -> QuerySet[Project]:
    """Projects a token of `user` may be scoped to: those they own or maintain."""
    return (
        Project.objects.filter(roles__user=user, roles__role__in=UPLOAD_ROLES)
        .order_by("normalized_name")
        .distinct()
    )

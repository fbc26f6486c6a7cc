"""The owner check of every page that manages a project, in one place.

Used by the project management pages and the trusted-publisher pages: a refusal is recorded
as `authz:denied` on the user's history (security.md §3I row 136) and answered with 403.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from accounts.models import User
from projects.models import Project
from projects.names import normalize_project_name
from projects.selectors import is_owner
from projects.services.roles import record_authorization_denied

OWNER_ONLY_MESSAGE = (
    "Only the project's owners can do this. Ask an owner if you need the change made."
)


def owned_project_or_denied(
    *,
    name: str,
    user: User,
    action: str,
    request: HttpRequest | None = None,
    message: str = OWNER_ONLY_MESSAGE,
) -> Project:
    """The project called `name` if `user` owns it.

    Raise Http404 when there is no such project. Otherwise, when `user` is not an owner,
    record `authz:denied` for `action` and raise PermissionDenied(`message`).
    """
    project = Project.objects.filter(normalized_name=normalize_project_name(name)).first()
    if project is None:
        raise Http404("No such project.")
    if not is_owner(project, user):
        record_authorization_denied(actor=user, project=project, action=action, request=request)
        raise PermissionDenied(message)
    return project

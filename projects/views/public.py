"""The public project page."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_safe

from projects.models import Project, Role
from projects.names import normalize_project_name
from projects.selectors import releases_with_files, roles_for_project


@require_safe
def project_detail(request: HttpRequest, name: str) -> HttpResponse:
    """A project's releases with their files, and its collaborators."""
    normalized = normalize_project_name(name)
    if normalized != name:
        return redirect("projects:detail", name=normalized, permanent=True)
    project = get_object_or_404(Project, normalized_name=normalized)
    roles = list(roles_for_project(project))
    viewer_role = next(
        (role.role for role in roles if role.user_id == getattr(request.user, "pk", None)),
        None,
    )
    return render(
        request,
        "projects/detail.html",
        {
            "project": project,
            "releases": list(releases_with_files(project)),
            "roles": roles,
            "is_owner": viewer_role == Role.Kind.OWNER,
        },
    )

"""The public project page, for the project's current release or one version of it."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_safe
from packaging.utils import canonicalize_version

from index_site.links import absolute_url
from projects.models import Project, Role
from projects.names import normalize_project_name
from projects.project_page import current_release, release_details, sorted_releases
from projects.selectors import (
    files_for_release,
    release_metadata,
    releases_for_project_page,
    roles_for_project,
)


@require_safe
def project_detail(request: HttpRequest, name: str, version: str | None = None) -> HttpResponse:
    """A project's page: install lines for this index, status banners, the release's
    description, metadata and files, the release history and the maintainers.

    Quarantined releases are shown (marked) only to the project's owners and to staff.
    """
    normalized = normalize_project_name(name)
    if normalized != name:
        arguments = {"name": normalized} | ({"version": version} if version else {})
        view = "projects:release" if version else "projects:detail"
        return redirect(view, permanent=True, **arguments)
    project = get_object_or_404(
        Project.objects.select_related("successor"), normalized_name=normalized
    )
    roles = list(roles_for_project(project))
    viewer_role = next(
        (role.role for role in roles if role.user_id == getattr(request.user, "pk", None)),
        None,
    )
    is_owner = viewer_role == Role.Kind.OWNER
    releases = sorted_releases(
        releases_for_project_page(
            project, include_quarantined=is_owner or bool(getattr(request.user, "is_staff", False))
        )
    )
    if version is None:
        release = current_release(releases)
    else:
        wanted = canonicalize_version(version)
        release = next((r for r in releases if canonicalize_version(r.version) == wanted), None)
        if release is None:
            raise Http404("No such release")
    requirement = project.normalized_name
    if version is not None and release is not None:
        requirement = f"{project.normalized_name}=={release.version}"
    return render(
        request,
        "projects/detail.html",
        {
            "project": project,
            "release": release,
            "details": release_details(release_metadata(release)) if release else None,
            # Evaluated by the template only when its cached rows are missing.
            "files": files_for_release(release) if release else [],
            "releases": releases,
            "roles": roles,
            "is_owner": is_owner,
            "index_url": absolute_url("projects:simple_index"),
            "requirement": requirement,
        },
    )

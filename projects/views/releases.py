"""Release management: yank and un-yank (owners and maintainers), delete files, releases and the
project (owners), each confirmed by typing the name, as on PyPI.

Every view needs a login, the 2FA policy's second factor and a recent password
(`protected`); the role is checked on every request, and a refusal is recorded as
`authz:denied`. The POST endpoints answer a GET (the return from re-authentication) by going
back to their page without changing anything.
"""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Q, When
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe
from packaging.utils import canonicalize_version

from accounts.http import AuthenticatedRequest
from accounts.protection import Need, protected
from projects.exceptions import ReleaseChangeError
from projects.models import File, Project, Release, Role
from projects.names import normalize_project_name
from projects.permissions import owned_project_or_denied
from projects.release_forms import ConfirmForm, YankForm, first_error
from projects.selectors import role_for_user
from projects.services.deletion import (
    delete_file,
    delete_own_project,
    delete_release,
    deletion_deadline,
    file_deletion_refusal,
    is_prerelease,
    project_deletion_refusal,
    release_deletion_refusal,
)
from projects.services.roles import record_authorization_denied
from projects.services.yank import quarantine_refusal, unyank_release, yank_release

COLLABORATORS_ONLY_MESSAGE = (
    "Only the project's owners and maintainers can do this. Ask an owner to add you if you need to."
)
DELETION_OWNERS_ONLY_MESSAGE = (
    "Only the project's owners can delete its files, releases or the project. Ask an owner, or "
    "yank the release instead."
)


def _collaborator(request: AuthenticatedRequest, name: str, action: str) -> tuple[Project, Role]:
    """The project and the user's role on it; 403 (with `authz:denied`) without a role."""
    project = get_object_or_404(Project, normalized_name=normalize_project_name(name))
    role = role_for_user(project, request.user)
    if role is None:
        record_authorization_denied(
            actor=request.user, project=project, action=action, request=request
        )
        raise PermissionDenied(COLLABORATORS_ONLY_MESSAGE)
    return project, role


def _owned_project(request: AuthenticatedRequest, name: str, action: str) -> Project:
    return owned_project_or_denied(
        name=name,
        user=request.user,
        action=action,
        request=request,
        message=DELETION_OWNERS_ONLY_MESSAGE,
    )


def _release(project: Project, version: str) -> Release:
    """The release by its version as published, or any spelling of it (`2.0`, `2`, `2.0.0`)."""
    release = (
        Release.objects.select_related("project")
        .filter(project=project)
        .filter(Q(version=version) | Q(canonical_version=canonicalize_version(version)))
        .order_by(Case(When(version=version, then=0), default=1))
        .first()
    )
    if release is None:
        raise Http404("No such release.")
    return release


def _to_release(release: Release) -> HttpResponse:
    return redirect(
        "projects:manage_release", name=release.project.normalized_name, version=release.version
    )


@protected(Need.SECOND_FACTOR, Need.FRESH_AUTH)
@require_safe
def release_list(request: AuthenticatedRequest, name: str) -> HttpResponse:
    """The project's releases, newest first, with their yank state (owners and maintainers)."""
    project, role = _collaborator(request, name, "project:releases:view")
    releases = (
        Release.objects.filter(project=project)
        .prefetch_related("files")
        .order_by("-created_at", "-pk")
    )
    return render(
        request,
        "projects/releases.html",
        {
            "project": project,
            "releases": releases,
            "is_owner": role.role == Role.Kind.OWNER,
            "window_hours": settings.DELETION_WINDOW_HOURS,
        },
    )


@protected(Need.SECOND_FACTOR, Need.FRESH_AUTH)
@require_safe
def release_detail(request: AuthenticatedRequest, name: str, version: str) -> HttpResponse:
    """One release: yank or un-yank it, delete a file or the whole release within the window."""
    project, role = _collaborator(request, name, "project:release:view")
    release = _release(project, version)
    now = timezone.now()
    files = [
        {
            "file": file,
            "deletable_until": deletion_deadline(file),
            "refusal": file_deletion_refusal(file, release, now=now),
        }
        for file in release.files.order_by("filename")
    ]
    context: dict[str, Any] = {
        "project": project,
        "release": release,
        "files": files,
        "is_owner": role.role == Role.Kind.OWNER,
        "quarantine_refusal": quarantine_refusal(release),
        "release_refusal": release_deletion_refusal(release, now=now),
        "release_is_prerelease": is_prerelease(release.version),
        "window_hours": settings.DELETION_WINDOW_HOURS,
    }
    return render(request, "projects/release.html", context)


@protected(Need.SECOND_FACTOR, Need.FRESH_AUTH)
@require_http_methods(["GET", "POST"])
def yank(request: AuthenticatedRequest, name: str, version: str) -> HttpResponse:
    project, _role = _collaborator(request, name, "project:release:yank")
    release = _release(project, version)
    if request.method == "POST":
        form = YankForm(request.POST, expected=release.version, what="version")
        if not form.is_valid():
            messages.error(request, first_error(form))
            return _to_release(release)
        try:
            yank_release(
                release=release,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                request=request,
            )
        except ReleaseChangeError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                f"Yanked release '{release.version}': installers skip it unless it is pinned "
                "exactly.",
            )
    return _to_release(release)


@protected(Need.SECOND_FACTOR, Need.FRESH_AUTH)
@require_http_methods(["GET", "POST"])
def unyank(request: AuthenticatedRequest, name: str, version: str) -> HttpResponse:
    project, _role = _collaborator(request, name, "project:release:unyank")
    release = _release(project, version)
    if request.method == "POST":
        form = ConfirmForm(request.POST, expected=release.version, what="version")
        if not form.is_valid():
            messages.error(request, first_error(form))
            return _to_release(release)
        try:
            unyank_release(release=release, actor=request.user, request=request)
        except ReleaseChangeError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Un-yanked release '{release.version}'.")
    return _to_release(release)


@protected(Need.SECOND_FACTOR, Need.FRESH_AUTH)
@require_http_methods(["GET", "POST"])
def file_delete(
    request: AuthenticatedRequest, name: str, version: str, file_id: int
) -> HttpResponse:
    project = _owned_project(request, name, "project:file:remove")
    release = _release(project, version)
    file = get_object_or_404(File, pk=file_id, release=release)
    if request.method == "POST":
        form = ConfirmForm(request.POST, expected=file.filename, what="file name")
        if not form.is_valid():
            messages.error(request, first_error(form))
            return _to_release(release)
        try:
            delete_file(file=file, actor=request.user, request=request)
        except ReleaseChangeError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                f"Deleted file '{file.filename}'; its name can never be uploaded again.",
            )
    return _to_release(release)


@protected(Need.SECOND_FACTOR, Need.FRESH_AUTH)
@require_http_methods(["GET", "POST"])
def release_delete(request: AuthenticatedRequest, name: str, version: str) -> HttpResponse:
    project = _owned_project(request, name, "project:release:remove")
    release = _release(project, version)
    if request.method != "POST":
        return _to_release(release)
    form = ConfirmForm(request.POST, expected=release.version, what="version")
    if not form.is_valid():
        messages.error(request, first_error(form))
        return _to_release(release)
    try:
        delete_release(release=release, actor=request.user, request=request)
    except ReleaseChangeError as error:
        messages.error(request, error.message)
        return _to_release(release)
    messages.success(
        request,
        f"Deleted release '{release.version}'; its file names can never be uploaded again.",
    )
    return redirect("projects:releases", name=project.normalized_name)


@protected(Need.SECOND_FACTOR, Need.FRESH_AUTH)
@require_http_methods(["GET", "POST"])
def project_delete(request: AuthenticatedRequest, name: str) -> HttpResponse:
    """The project's deletion page: why it is refused after the window, else a typed name."""
    project = _owned_project(request, name, "project:remove")
    form = ConfirmForm(request.POST or None, expected=project.name, what="project name")
    if request.method == "POST":
        if not form.is_valid():
            messages.error(request, first_error(form))
            return redirect("projects:delete_project", name=project.normalized_name)
        try:
            delete_own_project(project=project, actor=request.user, request=request)
        except ReleaseChangeError as error:
            messages.error(request, error.message)
            return redirect("projects:delete_project", name=project.normalized_name)
        messages.success(
            request,
            f"Deleted the project '{project.name}'. Its name stays reserved for its owners "
            f"for {settings.DELETED_NAME_RESERVATION_DAYS} days.",
        )
        return redirect("projects:mine")
    return render(
        request,
        "projects/delete_project.html",
        {
            "project": project,
            "refusal": project_deletion_refusal(project),
            "window_hours": settings.DELETION_WINDOW_HOURS,
            "reservation_days": settings.DELETED_NAME_RESERVATION_DAYS,
        },
    )

"""Owners set their project's status (settings page); signed-in users report a project."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods
from django_ratelimit.decorators import ratelimit

from accounts.http import AuthenticatedRequest
from accounts.protection import Need, protected
from projects.forms import ProjectStatusForm, ReportForm
from projects.models import Project, Release
from projects.names import normalize_project_name
from projects.permissions import owned_project_or_denied
from projects.services.reports import file_report
from projects.services.status import StatusChangeError, set_project_status

_STATUS_DONE = {
    Project.Status.ACTIVE: "{name} is active again: uploads are open.",
    Project.Status.ARCHIVED: (
        "{name} is archived: uploads are refused and its files stay installable. Unarchive it "
        "to upload again."
    ),
    Project.Status.DEPRECATED: "{name} is deprecated: its page and the index say so.",
}
REPORT_LIMIT_MESSAGE = (
    "You have sent many reports in a short time. Wait an hour, then report again; if it is "
    "urgent, write to the administrators."
)


@protected(Need.SECOND_FACTOR, Need.FRESH_AUTH)
@require_http_methods(["GET", "POST"])
def project_status(request: AuthenticatedRequest, name: str) -> HttpResponse:
    """Archive, unarchive, deprecate or un-deprecate the project (owners only).

    A GET (the return from re-authentication) lands on the settings page unchanged.
    """
    project = owned_project_or_denied(
        name=name, user=request.user, action="project:status:change", request=request
    )
    if request.method == "POST":
        form = ProjectStatusForm(request.POST)
        if not form.is_valid():
            successor_errors = form.errors.get("successor")
            messages.error(
                request,
                str(successor_errors[0])
                if successor_errors
                else "Choose a status: active, archived or deprecated.",
            )
            return redirect("projects:settings", name=project.normalized_name)
        status = form.cleaned_data["status"]
        try:
            changed = set_project_status(
                project=project,
                status=status,
                reason=form.cleaned_data["reason"],
                successor=form.cleaned_data["successor"],
                actor=request.user,
                request=request,
            )
        except StatusChangeError as error:
            messages.error(request, error.message)
        else:
            if changed:
                messages.success(request, _STATUS_DONE[status].format(name=project.name))
    return redirect("projects:settings", name=project.normalized_name)


def _report_rate(group: str, request: HttpRequest) -> str:
    return settings.PROJECT_REPORT_RATE_LIMIT


@protected(Need.LOGIN)
@require_http_methods(["GET", "POST"])
@ratelimit(key="user", rate=_report_rate, method="POST", group="projects:report", block=False)
def report_project(request: AuthenticatedRequest, name: str) -> HttpResponse:
    """Report the project, or one of its releases, to the administrators."""
    project = get_object_or_404(Project, normalized_name=normalize_project_name(name))
    if project.status == Project.Status.QUARANTINED:
        # Already taken out of the index: nothing more to report, and nothing to show.
        return render(
            request,
            "projects/report.html",
            {"project": project, "form": None, "is_quarantined": True},
            status=404,
        )
    form = ReportForm(request.POST or None, project=project)
    if request.method == "POST":
        if getattr(request, "limited", False):
            response = render(request, "429.html", {"message": REPORT_LIMIT_MESSAGE}, status=429)
            response["Retry-After"] = "3600"
            return response
        if form.is_valid():
            version = form.cleaned_data["version"]
            file_report(
                project=project,
                release=(
                    get_object_or_404(Release.objects.offered(), project=project, version=version)
                    if version
                    else None
                ),
                reporter=request.user,
                kind=form.cleaned_data["kind"],
                description=form.cleaned_data["description"],
                request=request,
            )
            messages.success(
                request,
                f"Thank you: your report on {project.name} was sent to the administrators. "
                "They review it and act on it; you get no further email.",
            )
            return redirect("projects:detail", name=project.normalized_name)
    return render(
        request,
        "projects/report.html",
        {"project": project, "form": form, "is_quarantined": False},
        status=400 if form.is_bound else 200,
    )

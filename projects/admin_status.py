"""Quarantine in the admin: actions on projects and releases, and the queue of reports.

Every action asks for a reason on a page of its own before anything changes; the reason goes
into the audit events and the owners' emails (projects.services.status). Imported by
projects.admin, which registers the project and release admins with these actions.
"""

from collections.abc import Callable
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count, Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from accounts.models import User
from auditlog.admin import audit_events_link
from index_site.strict_admin import StrictInputAdmin
from index_site.strict_forms import StrictForm
from projects.models import Project, Report
from projects.services.reports import dismiss_report, quarantine_reported
from projects.services.status import (
    lift_project_quarantine,
    lift_release_quarantine,
    quarantine_project,
    quarantine_release,
)

# (object, actor, reason, request) -> whether the object changed.
Apply = Callable[[Any, User, str, HttpRequest], bool]


class ReasonForm(StrictForm):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Emailed to the owners and kept in the audit log.",
    )


def _reason_action(
    *, name: str, description: str, explanation: str, done: str, apply: Apply
) -> Callable[[admin.ModelAdmin, HttpRequest, QuerySet], TemplateResponse | None]:
    """An admin action that first asks for a reason, then applies `apply` to each object."""

    def action(
        modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
    ) -> TemplateResponse | None:
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            actor = cast(User, request.user)
            reason = form.cleaned_data["reason"]
            changed = sum(apply(obj, actor, reason, request) for obj in queryset)
            modeladmin.message_user(
                request, done.format(count=changed, total=queryset.count()), messages.SUCCESS
            )
            return None
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": description,
            "explanation": explanation,
            "objects": list(queryset),
            "form": form,
            "action": name,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": modeladmin.model._meta,
        }
        return TemplateResponse(request, "projects/admin/reason_action.html", context)

    action.__name__ = name
    return admin.action(description=description, permissions=["change"])(action)


quarantine_projects = _reason_action(
    name="quarantine_projects",
    description="Quarantine the selected projects",
    explanation=(
        "Quarantined projects disappear from the simple index and their files cannot be "
        "downloaded; uploads are refused and owners cannot change their status. Nothing is "
        "deleted. Every owner and maintainer is emailed your reason and how to appeal."
    ),
    done="Quarantined {count} of {total} projects; their owners were emailed.",
    apply=lambda project, actor, reason, request: quarantine_project(
        project=project, actor=actor, reason=reason, request=request
    ),
)
lift_project_quarantines = _reason_action(
    name="lift_project_quarantines",
    description="Lift the quarantine of the selected projects",
    explanation=(
        "The projects return to the status they had before the quarantine and their files are "
        "offered again. Every owner and maintainer is emailed your reason."
    ),
    done="Lifted the quarantine of {count} of {total} projects; their owners were emailed.",
    apply=lambda project, actor, reason, request: lift_project_quarantine(
        project=project, actor=actor, reason=reason, request=request
    ),
)
quarantine_releases = _reason_action(
    name="quarantine_releases",
    description="Quarantine the selected releases",
    explanation=(
        "Quarantined releases disappear from the simple index and their files cannot be "
        "downloaded; no files can be added to them. Other releases are not affected. Every "
        "owner and maintainer is emailed your reason and how to appeal."
    ),
    done="Quarantined {count} of {total} releases; their owners were emailed.",
    apply=lambda release, actor, reason, request: quarantine_release(
        release=release, actor=actor, reason=reason, request=request
    ),
)
lift_release_quarantines = _reason_action(
    name="lift_release_quarantines",
    description="Lift the quarantine of the selected releases",
    explanation="The releases' files are offered again. Every owner and maintainer is emailed.",
    done="Lifted the quarantine of {count} of {total} releases; their owners were emailed.",
    apply=lambda release, actor, reason, request: lift_release_quarantine(
        release=release, actor=actor, reason=reason, request=request
    ),
)
quarantine_reports = _reason_action(
    name="quarantine_reports",
    description="Quarantine what the selected reports name",
    explanation=(
        "Each report's release (or its whole project, when no release is named) is "
        "quarantined and the report is closed. Every owner and maintainer is emailed your "
        "reason and how to appeal."
    ),
    done="Quarantined what {count} of {total} reports name; the reports are closed.",
    apply=lambda report, actor, reason, request: quarantine_reported(
        report=report, actor=actor, reason=reason, request=request
    ),
)
dismiss_reports = _reason_action(
    name="dismiss_reports",
    description="Dismiss the selected reports",
    explanation="The reports are closed without action; the reason is kept in the audit log.",
    done="Dismissed {count} of {total} reports.",
    apply=lambda report, actor, reason, request: dismiss_report(
        report=report, actor=actor, reason=reason, request=request
    ),
)


class ServiceOnlyAdmin(StrictInputAdmin):
    """Rows changed only through the actions' services: no add or delete, every field read-only."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        # Every field is read-only: the change page saves nothing.
        return


@admin.register(Report)
class ReportAdmin(ServiceOnlyAdmin):
    """The queue, newest first (filter by state), with what an administrator needs to decide."""

    list_display = [
        "created_at",
        "project_link",
        "release",
        "kind",
        "state",
        "reporter",
        "files",
        "publishers",
        "history",
    ]
    list_filter = ["state", "kind"]
    search_fields = ["project__normalized_name", "reporter__username", "description"]
    fields = readonly_fields = (
        "project_link",
        "release",
        "kind",
        "description",
        "reporter",
        "created_at",
        "state",
        "resolved_by",
        "resolved_at",
        "resolution_note",
        "files",
        "publishers",
        "history",
    )
    actions = [quarantine_reports, dismiss_reports]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Report]:
        return (
            super()
            .get_queryset(request)
            .select_related("project", "release__project", "reporter", "resolved_by")
            .prefetch_related("release__files", "project__trusted_publishers")
            .annotate(project_file_count=Count("project__releases__files", distinct=True))
        )

    @admin.display(description="Project", ordering="project__normalized_name")
    def project_link(self, obj: Report) -> str:
        url = reverse("admin:projects_project_change", args=[obj.project_id])
        status = "" if obj.project.status == Project.Status.ACTIVE else f" ({obj.project.status})"
        return format_html('<a href="{}">{}</a>{}', url, obj.project.name, status)

    @admin.display(description="Files")
    def files(self, obj: Report) -> str:
        if obj.release is not None:
            names = format_html_join(", ", "{}", ((f.filename,) for f in obj.release.files.all()))
            return names or "no files"
        count = obj.project_file_count  # type: ignore[attr-defined]
        url = reverse("projects:detail", kwargs={"name": obj.project.normalized_name})
        return format_html('<a href="{}">{} file{}</a>', url, count, "" if count == 1 else "s")

    @admin.display(description="Trusted publishers")
    def publishers(self, obj: Report) -> str:
        names = [publisher.display_name for publisher in obj.project.trusted_publishers.all()]  # type: ignore[attr-defined]
        return ", ".join(names) or "—"

    @admin.display(description="History")
    def history(self, obj: Report) -> str:
        return audit_events_link("Project history", project_pk=obj.project_id)

"""Django admin for projects. Limits, the critical flag and removal go through audited services."""

from typing import cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from accounts.models import User
from auditlog.admin import ReadOnlyAdmin, audit_events_link
from index_site.strict_admin import StrictInputAdmin
from index_site.strict_forms import StrictForm, StrictModelForm
from projects.admin_status import (
    ServiceOnlyAdmin,
    lift_project_quarantines,
    lift_release_quarantines,
    quarantine_projects,
    quarantine_releases,
)
from projects.models import (
    DeletedProjectName,
    DownloadCount,
    File,
    FilenameRegistry,
    ProhibitedProjectName,
    Project,
    Release,
    Role,
    RoleInvitation,
)
from projects.names import normalize_project_name
from projects.services.deletion import delete_file, delete_project, delete_release
from projects.services.projects import set_project_critical, set_project_limits

UPLOAD_LIMIT_CAP = 1024 * 1024 * 1024  # 1 GiB, PyPI's cap on a single file.


class ProjectAdminForm(StrictModelForm):
    critical_reason = forms.CharField(
        label="Reason for marking it critical",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed when you mark the project critical: its owners and maintainers read "
        "it in the email that tells them, and it is kept in the audit log.",
    )

    class Meta:
        model = Project
        fields = ["is_critical", "upload_limit", "total_size_limit"]
        help_texts = {
            "upload_limit": (
                "Largest file in bytes, higher or lower than the site default "
                "(UPLOAD_MAX_FILE_SIZE); empty for the site default."
            ),
            "total_size_limit": (
                "All files together in bytes, higher or lower than the site default "
                "(UPLOAD_MAX_PROJECT_SIZE); empty for the site default."
            ),
        }

    def clean(self):
        cleaned = super().clean()
        newly_critical = cleaned.get("is_critical") and not self.initial.get("is_critical")
        if newly_critical and not cleaned.get("critical_reason", "").strip():
            self.add_error(
                "critical_reason",
                "Say why the project is critical: its maintainers are told, and a flag "
                "without a reason reads like spam.",
            )
        return cleaned

    def clean_upload_limit(self):
        value = self.cleaned_data["upload_limit"]
        if value is not None and not 0 < value <= UPLOAD_LIMIT_CAP:
            raise forms.ValidationError(
                f"Enter a size in bytes between 1 and {UPLOAD_LIMIT_CAP} (1 GiB), or leave it "
                "empty for the site default."
            )
        return value

    def clean_total_size_limit(self):
        value = self.cleaned_data["total_size_limit"]
        if value is not None and value <= 0:
            raise forms.ValidationError(
                "Enter a positive size in bytes, or leave it empty for the site default."
            )
        return value


class ProjectDeleteForm(StrictForm):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Emailed to every owner and kept in the audit log.",
    )
    confirm_name = forms.CharField(label="Type the project's name to confirm")

    def __init__(self, *args, project: Project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_confirm_name(self) -> str:
        value = self.cleaned_data["confirm_name"]
        if normalize_project_name(value) != self.project.normalized_name:
            raise forms.ValidationError(
                f"Type '{self.project.name}' exactly to confirm which project to remove."
            )
        return value


@admin.register(Project)
class ProjectAdmin(StrictInputAdmin):
    form = ProjectAdminForm
    list_display = [
        "name",
        "normalized_name",
        "is_critical",
        "is_trusted_publishing_only",
        "status",
        "created_at",
    ]
    list_filter = ["is_critical", "is_trusted_publishing_only", "status"]
    search_fields = ["name", "normalized_name"]
    readonly_fields = [
        "name",
        "normalized_name",
        "created_at",
        "total_size",
        "serial",
        "is_trusted_publishing_only",
        "status",
        "quarantine_reason",
        "release_count",
        "collaborators",
        "audit_events",
    ]
    fields = [
        "name",
        "normalized_name",
        "created_at",
        "release_count",
        "collaborators",
        "total_size",
        "serial",
        "is_trusted_publishing_only",
        "status",
        "quarantine_reason",
        "is_critical",
        "critical_reason",
        "upload_limit",
        "total_size_limit",
        "audit_events",
    ]
    # Importing them also registers the report admin (projects.admin_status).
    actions = [quarantine_projects, lift_project_quarantines]

    @admin.display(description="Audit log")
    def audit_events(self, obj: Project) -> str:
        return audit_events_link("Events of this project", project_pk=obj.pk)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(release_total=Count("releases"))

    @admin.display(description="Releases")
    def release_count(self, obj) -> int:
        return obj.release_total

    @admin.display(description="Collaborators")
    def collaborators(self, obj) -> str:
        roles = Role.objects.filter(project=obj).select_related("user").order_by("role")
        return ", ".join(f"{role.user.username} ({role.role})" for role in roles) or "—"

    def has_add_permission(self, request) -> bool:
        # Projects are created by uploads, so the creator becomes Owner with an audit trail.
        return False

    def delete_view(self, request: HttpRequest, object_id, extra_context=None) -> HttpResponse:
        """Remove a project through `delete_project`: with a reason, audited, owners emailed.

        Replaces Django's confirmation page, whose delete would leave no event and no notice.
        """
        project = self.get_object(request, unquote(object_id))
        if project is None:
            raise Http404("No such project.")
        if not self.has_delete_permission(request, project):
            raise PermissionDenied("Removing projects needs the permission to delete them.")
        form = ProjectDeleteForm(request.POST or None, project=project)
        if request.method == "POST" and form.is_valid():
            name = project.name
            delete_project(
                project=project,
                actor=cast(User, request.user),
                request=request,
                reason=form.cleaned_data["reason"],
            )
            messages.success(request, f"Removed the project '{name}'; its owners were emailed.")
            return redirect("admin:projects_project_changelist")
        roles = Role.objects.filter(project=project, role=Role.Kind.OWNER).select_related("user")
        context = {
            **self.admin_site.each_context(request),
            **(extra_context or {}),
            "title": f"Remove the project '{project.name}'",
            "project": project,
            "form": form,
            "owners": sorted(role.user.username for role in roles),
            "release_count": project.releases.count(),
            "file_count": File.objects.filter(release__project=project).count(),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "projects/admin/delete.html", context)

    def save_model(self, request, obj, form, change) -> None:
        # Changes go through the services, which record the audit events.
        set_project_limits(
            project=obj,
            upload_limit=form.cleaned_data["upload_limit"],
            total_size_limit=form.cleaned_data["total_size_limit"],
            actor=request.user,
            request=request,
        )
        set_project_critical(
            project=obj,
            is_critical=form.cleaned_data["is_critical"],
            actor=request.user,
            request=request,
            reason=form.cleaned_data["critical_reason"],
        )


@admin.register(Role)
class RoleAdmin(ReadOnlyAdmin):
    """Read-only: role changes go through the project pages, which email every owner."""

    list_display = ["project", "user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["project__normalized_name", "user__username"]
    list_select_related = ["project", "user"]


@admin.register(RoleInvitation)
class RoleInvitationAdmin(ReadOnlyAdmin):
    list_display = ["project", "invitee", "role", "invited_by", "created_at", "expires_at"]
    search_fields = ["project__normalized_name", "invitee__username"]
    list_select_related = ["project", "invitee", "invited_by"]


class ProhibitedProjectNameForm(StrictModelForm):
    class Meta:
        model = ProhibitedProjectName
        fields = ["name", "reason"]

    def clean_name(self) -> str:
        # Stored normalized, so every spelling of the name is refused.
        return normalize_project_name(self.cleaned_data["name"])


@admin.register(ProhibitedProjectName)
class ProhibitedProjectNameAdmin(StrictInputAdmin):
    form = ProhibitedProjectNameForm
    list_display = ["name", "reason", "created_at"]
    search_fields = ["name", "reason"]


@admin.register(FilenameRegistry)
class FilenameRegistryAdmin(ReadOnlyAdmin):
    list_display = ["filename", "created_at"]
    search_fields = ["filename"]


@admin.register(DownloadCount)
class DownloadCountAdmin(ReadOnlyAdmin):
    list_display = ["project", "day", "count"]
    search_fields = ["project__normalized_name"]
    date_hierarchy = "day"
    list_select_related = ["project"]


class DeleteWithReasonForm(StrictForm):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Emailed to every owner and maintainer and kept in the audit log.",
    )
    confirm = forms.CharField(label="Type the name shown above to confirm")

    def __init__(self, *args, expected: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.expected = expected

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"]
        if value != self.expected:
            raise forms.ValidationError(f"Type '{self.expected}' exactly to confirm the deletion.")
        return value


class _DeleteWithReasonAdmin(ServiceOnlyAdmin):
    """Read-only rows an administrator deletes at any time, with a reason, through a service.

    Replaces Django's confirmation page, whose delete would leave no event, no email and the
    stored objects behind.
    """

    def has_delete_permission(self, request, obj=None) -> bool:
        return admin.ModelAdmin.has_delete_permission(self, request, obj)

    def confirmation_name(self, obj) -> str:
        raise NotImplementedError

    def delete_with_reason(self, request: HttpRequest, obj, reason: str) -> None:
        raise NotImplementedError

    def delete_view(self, request: HttpRequest, object_id, extra_context=None) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("No such object.")
        if not self.has_delete_permission(request, obj):
            raise PermissionDenied("Deleting these needs the permission to delete them.")
        name = self.confirmation_name(obj)
        form = DeleteWithReasonForm(request.POST or None, expected=name)
        if request.method == "POST" and form.is_valid():
            self.delete_with_reason(request, obj, form.cleaned_data["reason"])
            messages.success(request, f"Deleted '{name}'; the owners and maintainers were emailed.")
            return redirect(f"admin:projects_{self.model._meta.model_name}_changelist")
        context = {
            **self.admin_site.each_context(request),
            **(extra_context or {}),
            "title": f"Delete '{name}'",
            "name": name,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "projects/admin/delete_with_reason.html", context)


@admin.register(Release)
class ReleaseAdmin(_DeleteWithReasonAdmin):
    list_display = ["project", "version", "created_at", "yanked", "is_quarantined"]
    list_filter = ["is_quarantined", "yanked"]
    search_fields = ["project__normalized_name", "version"]
    list_select_related = ["project"]
    fields = readonly_fields = (
        "project",
        "version",
        "created_at",
        "yanked",
        "yanked_reason",
        "is_quarantined",
        "quarantine_reason",
    )
    actions = [quarantine_releases, lift_release_quarantines]

    def confirmation_name(self, obj: Release) -> str:
        return f"{obj.project.name} {obj.version}"

    def delete_with_reason(self, request: HttpRequest, obj: Release, reason: str) -> None:
        delete_release(
            release=obj,
            actor=cast(User, request.user),
            request=request,
            by_admin=True,
            reason=reason,
        )


@admin.register(File)
class FileAdmin(_DeleteWithReasonAdmin):
    list_display = ["filename", "release", "size", "uploaded_at"]
    search_fields = ["filename", "release__project__normalized_name"]
    list_select_related = ["release__project"]
    fields = readonly_fields = (
        "filename",
        "release",
        "packagetype",
        "size",
        "sha256_digest",
        "uploaded_at",
        "uploaded_by",
        "uploaded_via",
    )

    def confirmation_name(self, obj: File) -> str:
        return obj.filename

    def delete_with_reason(self, request: HttpRequest, obj: File, reason: str) -> None:
        delete_file(
            file=obj, actor=cast(User, request.user), request=request, by_admin=True, reason=reason
        )


@admin.register(DeletedProjectName)
class DeletedProjectNameAdmin(ReadOnlyAdmin):
    list_display = ["name", "deleted_at", "reserved_until"]
    search_fields = ["normalized_name", "name"]

"""Trusted publishing in the admin. Every change an admin makes here is on the audit log.

Publisher configurations are read-only (a changed configuration would silently hand a
project to another CI identity); which projects a publisher may publish goes through the same
services as the project pages (events, emails to collaborators, tokens revoked on removal).
Used JWT ids can be neither edited nor deleted: deleting one would let its JWT be replayed.
"""

from django import forms
from django.contrib import admin
from django.db import transaction

from index_site.strict_admin import StrictInputAdmin
from index_site.strict_forms import StrictModelForm
from publishing import services
from publishing.models import AdminFlag, OIDCIssuer, PendingPublisher, TrustedPublisher, UsedJwtId
from publishing.pending import remove_pending_publisher_as_admin

CONFIG_FIELDS = (
    "provider",
    "repository_owner",
    "repository_owner_id",
    "repository_name",
    "workflow_filename",
    "reusable_workflow_repository",
    "reusable_workflow_path",
    "reusable_workflow_ref",
    "namespace",
    "project",
    "workflow_filepath",
    "environment",
    "ref_type",
    "ref_pattern",
    "requires_protected_ref",
    "issuer",
    "email",
    "subject",
    "claim_rules",
    "config_key",
    "created_at",
)


class OIDCIssuerForm(StrictModelForm):
    issuer_url = forms.URLField(
        max_length=255,
        assume_scheme="https",
        help_text=OIDCIssuer._meta.get_field("issuer_url").help_text,
    )

    class Meta:
        model = OIDCIssuer
        fields = (
            "name",
            "issuer_url",
            "kind",
            "key_source",
            "pinned_jwks",
            "audience",
            "algorithms",
            "requires_jti",
            "is_enabled",
        )


@admin.register(OIDCIssuer)
class OIDCIssuerAdmin(StrictInputAdmin):
    form = OIDCIssuerForm
    list_display = ("name", "issuer_url", "kind", "key_source", "is_enabled")
    list_filter = ("kind", "key_source", "is_enabled")
    search_fields = ("name", "issuer_url")
    actions = None

    def save_model(self, request, obj, form, change) -> None:
        services.save_oidc_issuer(
            issuer=obj, changed_fields=list(form.changed_data), actor=request.user, request=request
        )

    def delete_model(self, request, obj) -> None:
        services.delete_oidc_issuer(issuer=obj, actor=request.user, request=request)


@admin.register(AdminFlag)
class AdminFlagAdmin(StrictInputAdmin):
    list_display = ("id", "is_enabled", "description")
    list_editable = ("is_enabled",)
    actions = None

    def get_readonly_fields(self, request, obj=None) -> tuple[str, ...]:
        return ("id",) if obj is not None else ()

    def has_delete_permission(self, request, obj=None) -> bool:
        # Turn a flag off instead: the change is then on the audit log.
        return False

    def save_model(self, request, obj, form, change) -> None:
        services.set_admin_flag(
            flag_id=obj.pk,
            is_enabled=obj.is_enabled,
            description=obj.description,
            actor=request.user,
            request=request,
        )


@admin.register(TrustedPublisher)
class TrustedPublisherAdmin(StrictInputAdmin):
    list_display = ("__str__", "provider", "created_at")
    list_filter = ("provider",)
    search_fields = ("repository_owner", "repository_name", "namespace", "project", "email")
    filter_horizontal = ("projects",)
    readonly_fields = CONFIG_FIELDS
    actions = None

    def has_add_permission(self, request) -> bool:
        # Owners register publishers on their project's page, with its checks.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Remove its projects instead: the row goes with the last one, tokens revoked.
        return False

    def save_model(self, request, obj, form, change) -> None:
        # The configuration is read-only; only `projects` changes, in save_related.
        pass

    @transaction.atomic
    def save_related(self, request, form, formsets, change) -> None:
        publisher = form.instance
        wanted = set(form.cleaned_data["projects"])
        current = set(publisher.projects.all())
        for project in sorted(wanted - current, key=lambda project: project.pk):
            services.attach_publisher_to_project(
                project=project, publisher=publisher, actor=request.user, request=request
            )
        for project in sorted(current - wanted, key=lambda project: project.pk):
            services.remove_publisher_from_project(
                project=project, publisher=publisher, actor=request.user, request=request
            )


@admin.register(PendingPublisher)
class PendingPublisherAdmin(StrictInputAdmin):
    list_display = ("project_name", "__str__", "added_by", "created_at")
    list_filter = ("provider",)
    search_fields = ("project_name", "added_by__username")
    # Who registered it decides who owns the project: nothing here is editable.
    readonly_fields = (*CONFIG_FIELDS, "project_name", "normalized_name", "added_by", "publisher")
    actions = None

    def has_add_permission(self, request) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        # Every field is read-only: nothing to save.
        pass

    def delete_model(self, request, obj) -> None:
        remove_pending_publisher_as_admin(pending=obj, actor=request.user, request=request)


@admin.register(UsedJwtId)
class UsedJwtIdAdmin(StrictInputAdmin):
    """View only: a deleted row would let its JWT mint a token again."""

    list_display = ("jti", "issuer_url", "expires_at")
    search_fields = ("jti",)
    actions = None

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

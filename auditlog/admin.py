from django.contrib import admin

from auditlog.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: no add, change or delete, even for superusers."""

    list_display = [
        "occurred_at",
        "event_type",
        "actor_username",
        "username",
        "project_name",
        "ip_address",
    ]
    list_filter = ["event_type"]
    search_fields = ["username", "actor_username", "project_name", "ip_address"]
    date_hierarchy = "occurred_at"
    actions = None

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

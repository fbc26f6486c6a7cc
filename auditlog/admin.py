from django.contrib import admin

from auditlog.models import AuditEvent
from index_site.strict_admin import StrictInputAdmin


class ReadOnlyAdmin(StrictInputAdmin):
    """Read-only: no add, change, delete or bulk action, even for superusers.

    Other apps' admins of records that only services may write (roles, the filename registry,
    download counts) use it too.
    """

    actions = None

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The append-only event log, for reading."""

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

from django.contrib import admin

from publishing.models import AdminFlag, OIDCIssuer, PendingPublisher, TrustedPublisher, UsedJwtId


@admin.register(OIDCIssuer)
class OIDCIssuerAdmin(admin.ModelAdmin):
    list_display = ("name", "issuer_url", "kind", "key_source", "is_enabled")
    list_filter = ("kind", "key_source", "is_enabled")
    search_fields = ("name", "issuer_url")


@admin.register(AdminFlag)
class AdminFlagAdmin(admin.ModelAdmin):
    list_display = ("id", "is_enabled", "description")
    list_editable = ("is_enabled",)


@admin.register(TrustedPublisher)
class TrustedPublisherAdmin(admin.ModelAdmin):
    list_display = ("__str__", "provider", "created_at")
    list_filter = ("provider",)
    search_fields = ("repository_owner", "repository_name", "namespace", "project", "email")
    filter_horizontal = ("projects",)
    readonly_fields = ("config_key", "created_at")


@admin.register(PendingPublisher)
class PendingPublisherAdmin(admin.ModelAdmin):
    list_display = ("project_name", "__str__", "added_by", "created_at")
    list_filter = ("provider",)
    search_fields = ("project_name", "added_by__username")
    raw_id_fields = ("added_by", "publisher")
    readonly_fields = ("config_key", "created_at")


@admin.register(UsedJwtId)
class UsedJwtIdAdmin(admin.ModelAdmin):
    list_display = ("jti", "issuer_url", "expires_at")
    search_fields = ("jti",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

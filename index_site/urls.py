from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from index_site import api, views

urlpatterns = [
    path("", views.home, name="home"),
    path("help/", views.help_page, name="help"),
    path("_/health", api.HealthView.as_view(), name="health"),
    path("_/health/live", api.LivenessView.as_view(), name="liveness"),
    path("_/api/schema/", api.SchemaView.as_view(), name="api_schema"),
    path("account/", include("accounts.urls")),
    path("", include("projects.urls")),
    path("", include("tokens.urls")),
    path("", include("publishing.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "index_site.views.bad_request"
handler403 = "index_site.views.permission_denied"
handler404 = "index_site.views.page_not_found"
handler500 = "index_site.views.server_error"

admin.site.site_header = f"{settings.SITE_NAME} administration"
admin.site.site_title = settings.SITE_NAME

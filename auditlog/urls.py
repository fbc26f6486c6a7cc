from django.urls import path, re_path

from auditlog import views

app_name = "auditlog"

urlpatterns = [
    path("account/security-history/", views.security_history, name="security_history"),
    re_path(
        r"^account/security-history/export\.(?P<fmt>jsonl|csv)$",
        views.security_history_export,
        name="security_history_export",
    ),
]

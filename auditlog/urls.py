from django.urls import path

from auditlog import views

app_name = "auditlog"

urlpatterns = [
    path("account/security-history/", views.security_history, name="security_history"),
    *(
        path(
            f"account/security-history/export.{fmt}",
            views.security_history_export,
            {"fmt": fmt},
            name=f"security_history_export_{fmt}",
        )
        for fmt in ("jsonl", "csv")
    ),
]

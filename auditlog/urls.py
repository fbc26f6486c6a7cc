from django.urls import path

from auditlog import views

app_name = "auditlog"

urlpatterns = [
    path("account/security-history/", views.security_history, name="security_history"),
]

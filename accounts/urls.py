from django.urls import path

from accounts import security_history, views
from accounts.two_factor.urls import urlpatterns as two_factor_urlpatterns

app_name = "accounts"

urlpatterns: list = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("register/", views.register_view, name="register"),
    path("register/done/", views.register_done_view, name="register_done"),
    path("verify-email/", views.verify_email_view, name="verify_email"),
    path("reauthenticate/", views.reauth_view, name="reauth"),
    path("settings/", views.settings_view, name="settings"),
    path("settings/profile/", views.update_profile_view, name="update_profile"),
    path("settings/password/", views.change_password_view, name="change_password"),
    path("settings/emails/add/", views.add_email_view, name="add_email"),
    path(
        "settings/emails/<int:email_id>/resend/",
        views.resend_verification_view,
        name="resend_verification",
    ),
    path(
        "settings/emails/<int:email_id>/primary/",
        views.make_primary_email_view,
        name="make_primary_email",
    ),
    path("settings/emails/<int:email_id>/remove/", views.remove_email_view, name="remove_email"),
    path("password-reset/", views.password_reset_view, name="password_reset"),
    path("password-reset/sent/", views.password_reset_done_view, name="password_reset_done"),
    path(
        "password-reset/<text:uidb64>/<text:token>/",
        views.ResetPasswordView.as_view(),
        name="password_reset_confirm",
    ),
    path("security-history/", security_history.security_history, name="security_history"),
    *(
        path(
            f"security-history/export.{fmt}",
            security_history.security_history_export,
            {"fmt": fmt},
            name=f"security_history_export_{fmt}",
        )
        for fmt in ("jsonl", "csv")
    ),
    *two_factor_urlpatterns,
]

"""URL patterns of the two-factor pages, included from accounts/urls.py (namespace accounts)."""

from django.urls import path

from accounts.two_factor import views

urlpatterns = [
    path("two-factor/", views.two_factor, name="two_factor"),
    path("two-factor/help/", views.two_factor_help, name="two_factor_help"),
    path("two-factor/totp/", views.totp_setup, name="totp_setup"),
    path("two-factor/totp/qr.svg", views.totp_qr, name="totp_qr"),
    path("two-factor/totp/remove/", views.totp_remove, name="totp_remove"),
    path("two-factor/webauthn/add/", views.webauthn_add, name="webauthn_add"),
    path(
        "two-factor/webauthn/options/",
        views.webauthn_register_options,
        name="webauthn_register_options",
    ),
    path("two-factor/webauthn/register/", views.webauthn_register, name="webauthn_register"),
    path("two-factor/webauthn/<int:pk>/remove/", views.webauthn_remove, name="webauthn_remove"),
    path("two-factor/recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path("login/two-factor/", views.login_two_factor, name="login_two_factor"),
    path(
        "login/two-factor/recovery-code/",
        views.login_recovery_code,
        name="login_recovery_code",
    ),
    path(
        "login/two-factor/webauthn/options/",
        views.login_webauthn_options,
        name="login_webauthn_options",
    ),
    path(
        "login/two-factor/webauthn/verify/",
        views.login_webauthn_verify,
        name="login_webauthn_verify",
    ),
    path("login/passkey/", views.login_passkey, name="login_passkey"),
    path("login/passkey/options/", views.passkey_login_options, name="passkey_login_options"),
    path("login/passkey/verify/", views.passkey_login_verify, name="passkey_login_verify"),
]

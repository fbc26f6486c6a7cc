"""The admin site: reached only through the site's own login, and only with a second factor.

Django's admin has its own password-only login form; here it is replaced by a redirect to the
site's login (password, then second factor), so the admin cannot be used to skip 2FA. Staff
without a second factor are sent to set one up, whatever the project 2FA policy says, and the
session itself must have completed its login with a second factor: having one is not enough.
"""

from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts.login import second_factor_verified
from accounts.next_urls import safe_next_url, two_factor_setup_redirect
from index_site.refusals import log_refusal
from index_site.single_values import single_query_value
from projects.policy import admin_two_factor_missing

ADMIN_SESSION_MESSAGE = (
    "The administration needs a login completed with your second factor. Log out, then log in "
    "again with your authenticator app, security key or a recovery code."
)
ADMIN_TWO_FACTOR_MESSAGE = (
    "The administration needs two-factor authentication. Add a passkey, security key or "
    "authenticator app; the administration opens once you have."
)


class GatehouseAdminSite(admin.AdminSite):
    def has_permission(self, request: HttpRequest) -> bool:
        return (
            super().has_permission(request)
            and not admin_two_factor_missing(request.user)
            and second_factor_verified(request)
        )

    def login(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        """No second login form: send people to the site's login, or explain what is missing."""
        next_url = safe_next_url(request, single_query_value(request.GET, "next")) or reverse(
            "admin:index"
        )
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(next_url, reverse("accounts:login"))
        if user.is_active and user.is_staff and admin_two_factor_missing(user):
            log_refusal("admin", reason="no_second_factor", user_id=user.pk)
            messages.warning(request, ADMIN_TWO_FACTOR_MESSAGE)
            return two_factor_setup_redirect(request, next_url=next_url)
        if self.has_permission(request):
            return redirect(next_url)
        if user.is_active and user.is_staff and not second_factor_verified(request):
            log_refusal("admin", reason="login_without_second_factor", user_id=user.pk)
            raise PermissionDenied(ADMIN_SESSION_MESSAGE)
        log_refusal("admin", reason="not_staff", user_id=user.pk)
        raise PermissionDenied(
            "Your account has no access to the administration. Ask an administrator if you need it."
        )

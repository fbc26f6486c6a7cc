"""Two-factor sections of the user admin: the user's methods (never a secret) and a reset.

`UserAdmin` in accounts/admin.py mixes in `TwoFactorUserAdminMixin`.
"""

from typing import cast

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.models import RecoveryCode, TOTPDevice, User, WebAuthnCredential
from accounts.two_factor.forms import ResetTwoFactorForm
from accounts.two_factor.methods import TwoFactorError, reset_two_factor
from index_site.strict_admin import StrictInputAdmin, StrictTabularInline


class _ReadOnlyInline(StrictTabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class TOTPDeviceInline(_ReadOnlyInline):
    model = TOTPDevice
    verbose_name = "authenticator app"
    verbose_name_plural = "Authenticator app"
    # The encrypted secret and the last step are never shown.
    fields = ("is_confirmed", "created_at", "confirmed_at")
    readonly_fields = fields


class WebAuthnCredentialInline(_ReadOnlyInline):
    model = WebAuthnCredential
    verbose_name = "security key or passkey"
    verbose_name_plural = "Security keys and passkeys"
    # Credential ids and public keys stay out of the page.
    fields = ("label", "is_discoverable", "transports", "sign_count", "created_at", "last_used_at")
    readonly_fields = fields


TWO_FACTOR_INLINES = (TOTPDeviceInline, WebAuthnCredentialInline)
RESET_URL_NAME = "accounts_user_reset_two_factor"


class TwoFactorUserAdminMixin(StrictInputAdmin):
    """Adds the user's methods, a summary with recovery-code counts, and a reset page."""

    def get_inlines(self, request: HttpRequest, obj):
        return (*super().get_inlines(request, obj), *TWO_FACTOR_INLINES)

    def get_fields(self, request: HttpRequest, obj=None):
        return (*super().get_fields(request, obj), "two_factor_summary")

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return (*super().get_readonly_fields(request, obj), "two_factor_summary")

    @admin.display(description="Two-factor authentication")
    def two_factor_summary(self, obj: User) -> str:
        if obj is None or obj.pk is None:
            return "-"
        has_app = TOTPDevice.objects.filter(user=obj, is_confirmed=True).exists()
        keys = WebAuthnCredential.objects.filter(user=obj).count()
        unused = RecoveryCode.objects.filter(user=obj, burned_at__isnull=True).count()
        return format_html(
            "Authenticator app: {}; security keys and passkeys: {}; unused recovery codes: {}. "
            '<a href="{}">Reset two-factor authentication…</a>',
            "on" if has_app else "off",
            keys,
            unused,
            reverse(f"admin:{RESET_URL_NAME}", args=[obj.pk]),
        )

    def get_urls(self):
        extra = [
            path(
                "<int:user_id>/reset-two-factor/",
                self.admin_site.admin_view(self.reset_two_factor_view),
                name=RESET_URL_NAME,
            )
        ]
        return extra + super().get_urls()

    def reset_two_factor_view(self, request: HttpRequest, user_id: int) -> HttpResponse:
        user = get_object_or_404(User, pk=user_id)
        if not self.has_change_permission(request, user):
            raise PermissionDenied
        form = ResetTwoFactorForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                reset_two_factor(
                    user=user,
                    actor=cast(User, request.user),  # admin_view: a logged-in staff member
                    reason=form.cleaned_data["reason"],
                    request=request,
                )
            except TwoFactorError as error:
                form.add_error("reason", error.message)
            else:
                self.log_change(request, user, "Reset two-factor authentication.")
                self.message_user(
                    request,
                    f"Two-factor authentication of {user.username} was reset; they were emailed.",
                    messages.SUCCESS,
                )
                return redirect("admin:accounts_user_change", user.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Reset two-factor authentication of {user.username}",
            "subject": user,
            "form": form,
            "opts": self.model._meta,
            "has_app": TOTPDevice.objects.filter(user=user, is_confirmed=True).exists(),
            "credentials": WebAuthnCredential.objects.filter(user=user).order_by("created_at"),
        }
        return render(request, "accounts/two_factor/admin_reset.html", context)

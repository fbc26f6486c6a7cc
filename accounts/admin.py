"""Admin for users and their email addresses.

No form here can set or show a password (not even its hash): an administrator sends a reset
link instead, and the user chooses the password. Account state changes go through services so
they are audited: an edit of name, staff or superuser status or groups records
`account:admin:change`. Users and addresses cannot be deleted here: a deleted user would take
their audit trail's link and perhaps a project's only owner with them. Disable the account
instead (the "Disable the selected accounts" action).

The user list links to *Login limits* (`login_limits_view`): whether a login surge is on, the
failed logins of the current window, the most refused accounts, IPs and networks, and a button
to clear the counters of one of them, recorded as `admin:login_limits:cleared`.
"""

from typing import cast

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.html import format_html

from accounts import ratelimits, services
from accounts.forms import ClearLoginLimitsForm
from accounts.models import Email, User
from accounts.two_factor.admin import TwoFactorUserAdminMixin
from auditlog.admin import audit_events_link
from index_site.strict_admin import StrictInputAdmin, StrictTabularInline


class EmailInline(StrictTabularInline):
    model = Email
    extra = 0
    fields = ("email", "is_primary", "is_verified", "verified_at", "created_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(User)
class UserAdmin(TwoFactorUserAdminMixin, StrictInputAdmin):
    list_display = ("username", "name", "primary_email", "is_active", "is_staff", "date_joined")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("username", "name", "emails__email")
    ordering = ("username",)
    # `password` is deliberately absent: never shown, never set here.
    fields = (
        "username",
        "name",
        "is_active",
        "is_staff",
        "is_superuser",
        "groups",
        "date_joined",
        "last_login",
        "password_changed_at",
        "audit_events",
    )
    readonly_fields = (
        "username",
        "is_active",
        "date_joined",
        "last_login",
        "password_changed_at",
        "audit_events",
    )
    filter_horizontal = ("groups",)
    inlines = (EmailInline,)
    actions = ("send_password_reset", "disable_accounts", "enable_accounts")

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).prefetch_related("emails")

    @admin.display(description="Audit log")
    def audit_events(self, obj: User) -> str:
        return format_html(
            "{} · {}",
            audit_events_link("Events in this account's history", user_pk=obj.pk),
            audit_events_link("Events this user did", actor_pk=obj.pk),
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        # People register themselves (with a verified address); admins use `createsuperuser`.
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Disable instead: deleting could orphan projects and cut the audit trail.
        return False

    def get_urls(self):
        extra = [
            path(
                "login-limits/",
                self.admin_site.admin_view(self.login_limits_view),
                name="accounts_user_login_limits",
            )
        ]
        return extra + super().get_urls()

    def login_limits_view(self, request: HttpRequest) -> HttpResponse:
        """The login limiter's state during an attack, and clearing one subject's counters."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = ClearLoginLimitsForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            subject = form.cleaned_data["subject"]
            ratelimits.clear_login_limits(
                subject=subject, actor=cast(User, request.user), request=request
            )
            self.message_user(
                request,
                f"The login counters of {subject} start again from zero.",
                messages.SUCCESS,
            )
            return redirect("admin:accounts_user_login_limits")
        context = {
            **self.admin_site.each_context(request),
            "title": "Login limits",
            "opts": self.model._meta,
            "state": ratelimits.login_limiter_state(),
            "form": form,
        }
        return render(request, "accounts/admin_login_limits.html", context)

    def save_model(self, request: HttpRequest, obj: User, form, change: bool) -> None:
        """Apply the edit through the audited service, compared with the stored user."""
        services.change_user_by_admin(
            user=User.objects.get(pk=obj.pk),
            actor=cast(User, request.user),
            name=form.cleaned_data["name"],
            is_staff=form.cleaned_data["is_staff"],
            is_superuser=form.cleaned_data["is_superuser"],
            groups=form.cleaned_data["groups"],
            request=request,
        )

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        # The groups were set by the service in save_model; the inlines are read-only.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    @admin.display(description="Primary email")
    def primary_email(self, obj: User) -> str:
        return obj.email

    @admin.action(description="Send a password reset link")
    def send_password_reset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        sent = skipped = 0
        for user in queryset:
            if services.send_password_reset(
                user=user, actor=cast(User, request.user), request=request
            ):
                sent += 1
            else:
                skipped += 1
        self.message_user(request, f"Sent {sent} password reset link(s).", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} account(s) have no active verified primary address; nothing was sent.",
                messages.WARNING,
            )

    @admin.action(description="Disable the selected accounts")
    def disable_accounts(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            services.set_user_active(
                user=user, is_active=False, actor=cast(User, request.user), request=request
            )
            self.log_change(request, user, "Disabled the account.")
        self.message_user(request, "The selected accounts are disabled.", messages.SUCCESS)

    @admin.action(description="Enable the selected accounts")
    def enable_accounts(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            services.set_user_active(
                user=user, is_active=True, actor=cast(User, request.user), request=request
            )
            self.log_change(request, user, "Enabled the account.")
        self.message_user(request, "The selected accounts are enabled.", messages.SUCCESS)


@admin.register(Email)
class EmailAdmin(StrictInputAdmin):
    list_display = ("email", "user", "is_primary", "is_verified", "created_at")
    list_filter = ("is_primary", "is_verified")
    search_fields = ("email", "user__username")
    list_select_related = ("user",)
    # Read-only: address changes go through the owner's settings page, where they are audited.
    readonly_fields = ("user", "email", "is_primary", "is_verified", "created_at", "verified_at")
    fields = ("user", "email", "is_primary", "is_verified", "created_at", "verified_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Removing an address is the owner's audited action, from their settings page.
        return False

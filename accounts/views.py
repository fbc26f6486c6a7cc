"""Account pages: registration, login, logout, re-authentication, settings, password reset.

Views are thin: a form, one service or login-mechanics call, a redirect. Every POST view is
CSRF-protected by the middleware; no view here is exempt.
"""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.views import (
    INTERNAL_RESET_SESSION_TOKEN,
    PasswordResetConfirmView,
)
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import ratelimits, services
from accounts.forms import (
    AddEmailForm,
    LoginForm,
    PasswordChangeForm,
    PasswordResetRequestForm,
    ProfileForm,
    ReauthForm,
    RegistrationForm,
    ResetPasswordForm,
)
from accounts.http import AuthenticatedRequest
from accounts.login import (
    check_password_for_login,
    finish_password_step,
    login_redirect,
    record_login_failure,
)
from accounts.models import Email
from accounts.next_urls import safe_next_url
from accounts.passwords import is_password_breached
from accounts.protection import Need, protected
from accounts.reauth import mark_authenticated
from accounts.selectors import emails_for_user, has_two_factor
from auditlog.selectors import attention_since_last_visit
from index_site.single_values import single_query_value

LOGIN_FAILED_MESSAGE = (
    "The username or password is incorrect. Check both and try again, or reset your password."
)
EMAIL_AS_USERNAME_HINT = (
    " Log in with your username, not your email address; reset your password if you forgot it."
)
ACCOUNT_DISABLED_MESSAGE = (
    "This account is disabled. Contact the administrators of this site to find out why."
)
COMPROMISED_LOGIN_MESSAGE = (
    "Your password appears in a public data breach, so it no longer works here. We emailed a "
    "link to choose a new one to your verified primary address; you can also reset it below."
)
REAUTH_FAILED_MESSAGE = "The password is incorrect. Type it again, or reset it if you forgot it."
CHECK_INBOX_MESSAGE = (
    "We sent a link to {email}. Open it to confirm the address; it expires in {hours} hours."
)


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = single_query_value(request.POST, "next") or single_query_value(request.GET, "next")
    if request.user.is_authenticated and request.method == "GET":
        return login_redirect(request, request.user, next_url=next_url)
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"]
        attempt = ratelimits.login_attempt(request, username=username)
        retry_after = attempt.retry_after()
        if retry_after is not None:
            # A log line only (no audit row, no count): no password was tried.
            return ratelimits.too_many_attempts(request, retry_after=retry_after)
        user, password_ok = check_password_for_login(
            username=username, password=form.cleaned_data["password"]
        )
        if user is not None and password_ok and not user.is_active:
            record_login_failure(request, user=user, reason="disabled")
            form.add_error(None, ACCOUNT_DISABLED_MESSAGE)
        elif user is not None and password_ok:
            if is_password_breached(form.cleaned_data["password"]):
                services.disable_compromised_password(user=user, request=request)
                form.add_error(None, COMPROMISED_LOGIN_MESSAGE)
            else:
                return finish_password_step(request, user, next_url=next_url)
        else:
            attempt.count_failure()
            record_login_failure(request, user=user, reason="bad_password")
            # The hint depends only on what was typed, never on whether the account exists.
            hint = EMAIL_AS_USERNAME_HINT if "@" in username else ""
            form.add_error(None, LOGIN_FAILED_MESSAGE + hint)
    return render(
        request,
        "accounts/login.html",
        {"form": form, "next": safe_next_url(request, next_url)},
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    services.log_out(request=request)
    messages.info(request, "You are logged out.")
    return redirect("home")


@sensitive_post_parameters("password")
@never_cache
@protected(Need.LOGIN)
@require_http_methods(["GET", "POST"])
def reauth_view(request: AuthenticatedRequest) -> HttpResponse:
    next_url = safe_next_url(
        request, single_query_value(request.POST, "next") or single_query_value(request.GET, "next")
    )
    form = ReauthForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = request.user
        attempt = ratelimits.login_attempt(request, username=user.username)
        retry_after = attempt.retry_after()
        if retry_after is not None:
            return ratelimits.too_many_attempts(request, retry_after=retry_after)
        if user.check_password(form.cleaned_data["password"]):
            mark_authenticated(request)
            return HttpResponseRedirect(next_url or reverse("accounts:settings"))
        attempt.count_failure()
        services.record_reauth_failure(user=user, request=request)
        form.add_error("password", REAUTH_FAILED_MESSAGE)
    return render(request, "accounts/reauth.html", {"form": form, "next": next_url})


@sensitive_post_parameters("new_password1", "new_password2")
@never_cache
@require_http_methods(["GET", "POST"])
def register_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:settings")
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        retry_after = ratelimits.consume_registration(request)
        if retry_after is not None:
            return ratelimits.too_many_attempts(request, retry_after=retry_after)
        try:
            services.register_user(
                username=form.cleaned_data["username"],
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["new_password1"],
                request=request,
            )
        except services.UsernameTakenError as error:
            form.add_error("username", error.message)
        else:
            # The same answer whether or not the address was already in use.
            return redirect("accounts:register_done")
    return render(request, "accounts/register.html", {"form": form})


@require_GET
def register_done_view(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/register_done.html")


@never_cache
@require_http_methods(["GET", "POST"])
def verify_email_view(request: HttpRequest) -> HttpResponse:
    """GET shows a confirm button (link scanners only GET); POST verifies the address."""
    token = single_query_value(request.POST, "token") or single_query_value(request.GET, "token")
    if request.method == "GET":
        return render(request, "accounts/verify_email.html", {"token": token})
    email = services.verify_email(token=token, request=request)
    if email is None:
        return render(request, "accounts/verify_email_invalid.html", status=400)
    messages.success(request, f"{email.email} is verified.")
    if request.user.is_authenticated:
        return redirect("accounts:settings")
    return redirect("accounts:login")


def _emails(request: AuthenticatedRequest) -> QuerySet[Email]:
    return emails_for_user(request.user)


def _render_settings(request: AuthenticatedRequest, **forms: Any) -> HttpResponse:
    context = {
        "profile_form": ProfileForm(initial={"name": request.user.name}),
        "email_form": AddEmailForm(),
        "password_form": PasswordChangeForm(user=request.user),
        "emails": list(_emails(request)),
        "has_two_factor": has_two_factor(request.user),
        "attention_count": attention_since_last_visit(request.user),
        **forms,
    }
    return render(request, "accounts/settings.html", context)


@never_cache
@protected(Need.LOGIN)
@require_GET
def settings_view(request: AuthenticatedRequest) -> HttpResponse:
    return _render_settings(request)


@protected(Need.LOGIN)
@require_POST
def update_profile_view(request: AuthenticatedRequest) -> HttpResponse:
    form = ProfileForm(request.POST)
    if not form.is_valid():
        return _render_settings(request, profile_form=form)
    services.update_profile(user=request.user, name=form.cleaned_data["name"], request=request)
    messages.success(request, "Your display name is saved.")
    return redirect("accounts:settings")


@protected(Need.FRESH_AUTH, returns_to="accounts:settings")
@require_POST
def add_email_view(request: AuthenticatedRequest) -> HttpResponse:
    form = AddEmailForm(request.POST)
    if not form.is_valid():
        return _render_settings(request, email_form=form)
    retry_after = ratelimits.consume(
        request, limits=ratelimits.EMAIL_ADD_PER_USER, key=f"user-id:{request.user.pk}"
    )
    if retry_after is not None:
        return ratelimits.too_many_attempts(request, retry_after=retry_after)
    address = form.cleaned_data["email"]
    try:
        services.add_email(user=request.user, address=address, request=request)
    except services.AccountError as error:
        form.add_error("email", error.message)
        return _render_settings(request, email_form=form)
    messages.success(request, _check_inbox(address))
    return redirect("accounts:settings")


def _check_inbox(address: str) -> str:
    return CHECK_INBOX_MESSAGE.format(
        email=address, hours=settings.EMAIL_VERIFICATION_MAX_AGE // 3600
    )


def _own_email(request: AuthenticatedRequest, email_id: int) -> Email:
    return get_object_or_404(Email, pk=email_id, user=request.user)


@protected(Need.LOGIN)
@require_POST
def resend_verification_view(request: AuthenticatedRequest, email_id: int) -> HttpResponse:
    email = _own_email(request, email_id)
    retry_after = ratelimits.consume(
        request, limits=ratelimits.EMAIL_VERIFY_PER_USER, key=f"user-id:{request.user.pk}"
    )
    if retry_after is not None:
        return ratelimits.too_many_attempts(request, retry_after=retry_after)
    try:
        services.resend_verification(email=email)
    except services.AccountError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _check_inbox(email.email))
    return redirect("accounts:settings")


def _change_own_email(
    request: AuthenticatedRequest,
    email_id: int,
    *,
    change: Callable[..., object],
    success: str,
) -> HttpResponse:
    """Apply `change(user=, email=, request=)` to one of the user's addresses; the outcome
    (`success` with `{email}` filled in, or the AccountError) is a message on the settings page."""
    email = _own_email(request, email_id)
    try:
        change(user=request.user, email=email, request=request)
    except services.AccountError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, success.format(email=email.email))
    return redirect("accounts:settings")


@protected(Need.FRESH_AUTH, returns_to="accounts:settings")
@require_POST
def make_primary_email_view(request: AuthenticatedRequest, email_id: int) -> HttpResponse:
    return _change_own_email(
        request,
        email_id,
        change=services.make_primary_email,
        success="{email} is now your primary address.",
    )


@protected(Need.FRESH_AUTH, returns_to="accounts:settings")
@require_POST
def remove_email_view(request: AuthenticatedRequest, email_id: int) -> HttpResponse:
    return _change_own_email(
        request,
        email_id,
        change=services.remove_email,
        success="{email} is removed from your account.",
    )


@sensitive_post_parameters("current_password", "new_password1", "new_password2")
@protected(Need.LOGIN)
@require_POST
def change_password_view(request: AuthenticatedRequest) -> HttpResponse:
    user = request.user
    attempt = ratelimits.login_attempt(request, username=user.username)
    retry_after = attempt.retry_after()
    if retry_after is not None:
        return ratelimits.too_many_attempts(request, retry_after=retry_after)
    form = PasswordChangeForm(request.POST, user=user)
    if not form.is_valid():
        if form.has_error("current_password"):
            attempt.count_failure()
            services.record_reauth_failure(user=user, request=request)
        return _render_settings(request, password_form=form)
    services.change_password(
        user=user, new_password=form.cleaned_data["new_password1"], request=request
    )
    # Other sessions end (their auth hash no longer matches); this one is kept.
    update_session_auth_hash(request, user)
    mark_authenticated(request)
    messages.success(request, "Your password is changed. Your other sessions are logged out.")
    return redirect("accounts:settings")


@never_cache
@require_http_methods(["GET", "POST"])
def password_reset_view(request: HttpRequest) -> HttpResponse:
    form = PasswordResetRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.request_password_reset(identifier=form.cleaned_data["identifier"], request=request)
        # The same answer for known and unknown accounts.
        return redirect("accounts:password_reset_done")
    return render(request, "accounts/password_reset.html", {"form": form})


@require_GET
def password_reset_done_view(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/password_reset_done.html")


class ResetPasswordView(PasswordResetConfirmView):
    """Django's reset-link handling (token moved out of the URL into the session) + services."""

    form_class = ResetPasswordForm
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:login")

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        return user if user is not None and user.is_active else None

    def form_valid(self, form):
        services.reset_password(
            user=self.user, new_password=form.cleaned_data["new_password1"], request=self.request
        )
        self.request.session.pop(INTERNAL_RESET_SESSION_TOKEN, None)
        messages.success(self.request, "Your password is changed. Log in with the new password.")
        return HttpResponseRedirect(self.get_success_url())

    def render_to_response(self, context, **response_kwargs):
        if not self.validlink:
            response_kwargs["status"] = 400
        return super().render_to_response(context, **response_kwargs)

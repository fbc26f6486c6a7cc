"""Two-factor pages: managing methods, the second login step, passkey login, help.

Views are thin: they read input, ask the limiter, call one service and render or redirect.
"""

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.contrib import messages
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import ratelimits
from accounts.encryption import decrypt_bytes, encrypt_bytes
from accounts.http import AuthenticatedRequest
from accounts.login import (
    finish_login,
    mark_second_factor_verified,
    record_login_failure,
)
from accounts.models import TOTPDevice, User
from accounts.next_urls import remember_return_url, take_return_url
from accounts.protection import Need, protected
from accounts.selectors import has_two_factor
from accounts.two_factor.forms import RecoveryCodeForm, TOTPCodeForm
from accounts.two_factor.methods import TwoFactorError, count_methods
from accounts.two_factor.recovery_codes import (
    BURNED_CODE_MESSAGE,
    LOW_REMAINING,
    RecoveryCodeResult,
    format_recovery_code,
    generate_recovery_codes,
    has_recovery_codes,
    remaining_recovery_codes,
    use_recovery_code,
)
from accounts.two_factor.recovery_codes import INVALID_CODE_MESSAGE as INVALID_RECOVERY_MESSAGE
from accounts.two_factor.security_keys import (
    KIND_PASSKEY,
    KIND_SECURITY_KEY,
    KINDS,
    WebAuthnError,
    authenticate_credential,
    authentication_options,
    register_credential,
    registration_options,
    remove_credential,
)
from accounts.two_factor.totp import (
    INVALID_CODE_MESSAGE as INVALID_TOTP_MESSAGE,
)
from accounts.two_factor.totp import (
    REUSED_CODE_MESSAGE,
    TOTPResult,
    check_totp_code,
    confirm_totp_device,
    remove_totp_device,
    start_totp_setup,
    totp_qr_svg,
    totp_secret_base32,
)
from index_site.json_body import JSONBodyError, read_json_object
from index_site.refusals import log_refusal
from index_site.single_values import single_query_value

PENDING_TOTP_KEY = "totp_pending_secret"
# Seconds a setup's secret (encrypted, in the session) stays usable: long enough to find the
# phone and scan, short enough that a forgotten tab does not hold a secret for long.
PENDING_TOTP_MAX_AGE = 30 * 60
CODES_TO_SHOW_KEY = "recovery_codes_to_show"
# Seconds during which new recovery codes, encrypted in the session, can still be shown once.
CODES_TO_SHOW_MAX_AGE = 10 * 60
TOTP_FAILURE_REASONS = {
    TOTPResult.MALFORMED: "malformed_totp",
    TOTPResult.INVALID: "invalid_totp",
    TOTPResult.OUT_OF_SYNC: "totp_out_of_sync",
    TOTPResult.REPLAY: "totp_replay",
}
RECOVERY_FAILURE_REASONS = {
    RecoveryCodeResult.MALFORMED: "malformed_recovery_code",
    RecoveryCodeResult.INVALID: "invalid_recovery_code",
    RecoveryCodeResult.BURNED: "burned_recovery_code",
}


def _confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, is_confirmed=True).first()


def _has_null_byte(request: HttpRequest) -> bool:
    return "\x00" in request.POST.get("code", "")


def _read_json_body(request: HttpRequest) -> dict[str, Any] | None:
    """The request's JSON object, or None if it is too large or not a JSON object."""
    try:
        return read_json_object(request)
    except JSONBodyError:
        return None


def _json_error(message: str, *, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _json_too_many(retry_after: int) -> JsonResponse:
    response = _json_error(ratelimits.TOO_MANY_ATTEMPTS_MESSAGE, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def _keep_codes_to_show(request: HttpRequest, codes: list[str]) -> None:
    """Keep new codes for the page that shows them once, encrypted: never plaintext at rest."""
    token = encrypt_bytes(json.dumps(codes).encode())
    request.session[CODES_TO_SHOW_KEY] = token.decode()


def _take_codes_to_show(request: HttpRequest) -> list[str] | None:
    """The codes kept by `_keep_codes_to_show`, removed from the session; None once too old."""
    token = request.session.pop(CODES_TO_SHOW_KEY, None)
    if not isinstance(token, str):
        return None
    try:
        return json.loads(decrypt_bytes(token.encode(), ttl=CODES_TO_SHOW_MAX_AGE))
    except InvalidToken:
        return None


def _pending_totp_secret(request: HttpRequest) -> bytes | None:
    """The encrypted secret of the app being set up in this session; None if none or too old."""
    token = request.session.get(PENDING_TOTP_KEY)
    if not isinstance(token, str):
        return None
    try:
        decrypt_bytes(token.encode(), ttl=PENDING_TOTP_MAX_AGE)
    except InvalidToken:
        return None
    return token.encode()


def _after_first_method(request: HttpRequest, user: User) -> str:
    """Where to go after adding a method: the recovery codes, made now if the user has none,
    else the page the setup detour started from, else the two-factor page."""
    if not has_recovery_codes(user):
        _keep_codes_to_show(
            request, generate_recovery_codes(user=user, actor=user, request=request)
        )
        return reverse("accounts:recovery_codes")
    return take_return_url(request) or reverse("accounts:two_factor")


# -- Managing methods ---------------------------------------------------------------------


@never_cache
@protected(Need.LOGIN)
@require_GET
def two_factor(request: AuthenticatedRequest) -> HttpResponse:
    """The two-factor page: the user's methods, and how to add or remove them."""
    user = request.user
    credentials = list(user.webauthn_credentials.order_by("created_at"))
    context = {
        "totp_device": _confirmed_device(user),
        "credentials": credentials,
        "has_two_factor": has_two_factor(user),
        "method_count": count_methods(user),
        "recovery_codes_remaining": remaining_recovery_codes(user),
        "has_recovery_codes": has_recovery_codes(user),
        "low_remaining": LOW_REMAINING,
        "return_url": remember_return_url(request),
    }
    return render(request, "accounts/two_factor/manage.html", context)


@require_GET
def two_factor_help(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/two_factor/help.html")


@never_cache
@protected(Need.FRESH_AUTH)
@require_http_methods(["GET", "POST"])
def totp_setup(request: AuthenticatedRequest) -> HttpResponse:
    """GET: a new secret with its QR code. POST: confirm it with a code from the app."""
    user = request.user
    pending = _pending_totp_secret(request)
    if request.method == "GET":
        if pending is None:
            try:
                pending = start_totp_setup(user=user)
            except TwoFactorError as error:
                messages.info(request, error.message)
                return redirect("accounts:two_factor")
            request.session[PENDING_TOTP_KEY] = pending.decode()
        form = TOTPCodeForm()
    else:
        if pending is None:
            messages.error(request, "Start the authenticator app setup again.")
            return redirect("accounts:totp_setup")
        form = TOTPCodeForm(request.POST)
        if form.is_valid():
            try:
                result = confirm_totp_device(
                    user=user,
                    encrypted_secret=pending,
                    raw_code=form.cleaned_data["code"],
                    request=request,
                )
            except TwoFactorError as error:
                messages.error(request, error.message)
                return redirect("accounts:two_factor")
            if result is TOTPResult.ACCEPTED:
                request.session.pop(PENDING_TOTP_KEY, None)
                mark_second_factor_verified(request)
                messages.success(request, "Your authenticator app is set up.")
                return redirect(_after_first_method(request, user))
            log_refusal("two-factor setup", reason=TOTP_FAILURE_REASONS[result], user_id=user.pk)
            form.add_error("code", INVALID_TOTP_MESSAGE)
    context = {"form": form, "secret_groups": _in_fours(totp_secret_base32(pending))}
    status = 400 if _has_null_byte(request) else 200
    return render(request, "accounts/two_factor/totp_setup.html", context, status=status)


def _in_fours(secret: str) -> list[str]:
    """`secret` cut into groups of four characters, as it is easiest to read and type."""
    return [secret[start : start + 4] for start in range(0, len(secret), 4)]


@never_cache
@protected(Need.LOGIN)
@require_GET
def totp_qr(request: AuthenticatedRequest) -> HttpResponse:
    """The QR code of the app being set up in this session, as SVG."""
    pending = _pending_totp_secret(request)
    if pending is None:
        raise Http404("No authenticator app is being set up.")
    return HttpResponse(
        totp_qr_svg(user=request.user, encrypted_secret=pending), content_type="image/svg+xml"
    )


@protected(Need.FRESH_AUTH)
@require_POST
def totp_remove(request: AuthenticatedRequest) -> HttpResponse:
    try:
        remove_totp_device(user=request.user, actor=request.user, request=request)
    except TwoFactorError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Your authenticator app was removed.")
    return redirect("accounts:two_factor")


@never_cache
@ensure_csrf_cookie
@protected(Need.FRESH_AUTH)
@require_GET
def webauthn_add(request: AuthenticatedRequest) -> HttpResponse:
    """The page that registers a security key or a passkey (with static/js/webauthn.js)."""
    kind = single_query_value(request.GET, "kind", KIND_SECURITY_KEY)
    if kind not in KINDS:
        kind = KIND_SECURITY_KEY
    return render(
        request,
        "accounts/two_factor/webauthn_add.html",
        {"kind": kind, "is_passkey": kind == KIND_PASSKEY},
    )


@never_cache
@protected(Need.FRESH_AUTH)
@require_POST
def webauthn_register_options(request: AuthenticatedRequest) -> HttpResponse:
    kind = single_query_value(request.POST, "kind", KIND_SECURITY_KEY)
    try:
        options = registration_options(request=request, user=request.user, kind=kind)
    except WebAuthnError as error:
        return _json_error(error.message)
    return HttpResponse(options, content_type="application/json")


@never_cache
@protected(Need.FRESH_AUTH)
@require_POST
def webauthn_register(request: AuthenticatedRequest) -> HttpResponse:
    body = _read_json_body(request)
    if body is None or not isinstance(body.get("credential"), dict):
        request.session.pop("webauthn_register", None)
        return _json_error("The browser sent an unreadable answer. Reload the page and retry.")
    try:
        credential = register_credential(
            request=request,
            user=request.user,
            label=str(body.get("label", "")),
            credential_json=json.dumps(body["credential"]),
        )
    except WebAuthnError as error:
        log_refusal("two-factor setup", reason=error.reason, user_id=request.user.pk)
        return _json_error(error.message)
    mark_second_factor_verified(request)
    messages.success(request, f"“{credential.label}” was added.")
    return JsonResponse({"redirect": _after_first_method(request, request.user)})


@protected(Need.FRESH_AUTH)
@require_POST
def webauthn_remove(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    try:
        remove_credential(user=request.user, credential_pk=pk, actor=request.user, request=request)
    except TwoFactorError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "The security key was removed.")
    return redirect("accounts:two_factor")


@never_cache
@protected(Need.LOGIN)
@require_http_methods(["GET", "POST"])
def recovery_codes(request: AuthenticatedRequest) -> HttpResponse:
    """GET: the new codes, shown this once. POST (re-authenticated): replace all codes."""
    if request.method == "POST":
        return _regenerate_recovery_codes(request)
    codes = _take_codes_to_show(request)
    if not codes:
        return redirect("accounts:two_factor")
    shown = [format_recovery_code(code) for code in codes]
    site = settings.SITE_NAME
    context = {
        "codes": shown,
        "codes_text": "\n".join(shown),
        # The download is made in the page from the codes shown, so nothing serves them again.
        "codes_file": (
            f"Recovery codes for {request.user.username} on {site} ({settings.SITE_URL}).\n"
            "Each code logs in once. Older codes no longer work.\n\n" + "\n".join(shown) + "\n"
        ),
        "codes_filename": f"{slugify(site) or 'site'}-recovery-codes.txt",
        "continue_url": take_return_url(request) or reverse("accounts:two_factor"),
    }
    return render(request, "accounts/two_factor/recovery_codes.html", context)


@protected(Need.FRESH_AUTH)
def _regenerate_recovery_codes(request: AuthenticatedRequest) -> HttpResponse:
    if not has_two_factor(request.user):
        messages.error(request, "Add a passkey, security key or authenticator app first.")
        return redirect("accounts:two_factor")
    _keep_codes_to_show(
        request,
        generate_recovery_codes(user=request.user, actor=request.user, request=request),
    )
    return redirect("accounts:recovery_codes")


# -- The second login step ----------------------------------------------------------------


def _second_step_attempts_limited(
    view: Callable[[HttpRequest, User], HttpResponse],
) -> Callable[[HttpRequest, User], HttpResponse]:
    """A form page of the second login step: a POST while the user's two-factor attempts are
    rate-limited is refused before the form is read."""

    @wraps(view)
    def wrapper(request: HttpRequest, user: User) -> HttpResponse:
        if request.method == "POST":
            retry_after = ratelimits.two_factor_retry_after(request, user=user)
            if retry_after is not None:
                return ratelimits.too_many_attempts(request, retry_after=retry_after)
        return view(request, user)

    return wrapper


def _record_second_step_failure(request: HttpRequest, user: User, *, reason: str) -> None:
    """A wrong answer at the second login step (any method): it counts toward the two-factor
    rate limit and is recorded as a failed login."""
    ratelimits.count_two_factor_failure(request, user=user)
    record_login_failure(request, user=user, reason=reason)


def _second_step_context(user: User, **extra: Any) -> dict[str, Any]:
    return {
        "has_totp": _confirmed_device(user) is not None,
        "has_webauthn": user.webauthn_credentials.exists(),
        **extra,
    }


@never_cache
@ensure_csrf_cookie
@protected(Need.PENDING_LOGIN)
@require_http_methods(["GET", "POST"])
@_second_step_attempts_limited
def login_two_factor(request: HttpRequest, user: User) -> HttpResponse:
    """The second login step: a code from the app, or a security key (via JS)."""
    form = TOTPCodeForm()
    status = 200
    if request.method == "POST":
        device = _confirmed_device(user)
        form = TOTPCodeForm(request.POST)
        result = TOTPResult.MALFORMED
        if device is not None and form.is_valid():
            result = check_totp_code(device=device, raw_code=form.cleaned_data["code"])
            if result is TOTPResult.ACCEPTED:
                return finish_login(request, user, method="totp")
        if not form.errors:
            reused = result is TOTPResult.REPLAY
            form.add_error("code", REUSED_CODE_MESSAGE if reused else INVALID_TOTP_MESSAGE)
        _record_second_step_failure(request, user, reason=TOTP_FAILURE_REASONS[result])
        status = 400 if _has_null_byte(request) else 200
    return render(
        request,
        "accounts/two_factor/login.html",
        _second_step_context(user, form=form),
        status=status,
    )


@never_cache
@protected(Need.PENDING_LOGIN)
@require_http_methods(["GET", "POST"])
@_second_step_attempts_limited
def login_recovery_code(request: HttpRequest, user: User) -> HttpResponse:
    form = RecoveryCodeForm()
    status = 200
    if request.method == "POST":
        form = RecoveryCodeForm(request.POST)
        result = RecoveryCodeResult.MALFORMED
        if form.is_valid():
            result = use_recovery_code(
                user=user, raw_code=form.cleaned_data["code"], request=request
            )
            if result is RecoveryCodeResult.ACCEPTED:
                return _finish_recovery_login(request, user)
            form.add_error(
                "code",
                BURNED_CODE_MESSAGE
                if result is RecoveryCodeResult.BURNED
                else INVALID_RECOVERY_MESSAGE,
            )
        _record_second_step_failure(request, user, reason=RECOVERY_FAILURE_REASONS[result])
        status = 400 if _has_null_byte(request) else 200
    return render(
        request, "accounts/two_factor/login_recovery_code.html", {"form": form}, status=status
    )


def _finish_recovery_login(request: HttpRequest, user: User) -> HttpResponse:
    response = finish_login(request, user, method="recovery_code")
    remaining = remaining_recovery_codes(user)
    text = f"You logged in with a recovery code. {remaining} unused codes remain."
    if remaining <= LOW_REMAINING:
        text += " Make new codes on the two-factor page so you are not locked out."
        messages.warning(request, text)
    else:
        messages.info(request, text)
    return response


@never_cache
@protected(Need.PENDING_LOGIN, answers_json=True)
@require_POST
def login_webauthn_options(request: HttpRequest, user: User) -> HttpResponse:
    return HttpResponse(
        authentication_options(request=request, user=user), content_type="application/json"
    )


@never_cache
@protected(Need.PENDING_LOGIN, answers_json=True)
@require_POST
def login_webauthn_verify(request: HttpRequest, user: User) -> HttpResponse:
    retry_after = ratelimits.two_factor_retry_after(request, user=user)
    if retry_after is not None:
        return _json_too_many(retry_after)
    try:
        _verify_assertion(request, user)
    except WebAuthnError as error:
        _record_second_step_failure(request, user, reason=f"invalid_webauthn:{error.reason}")
        return _json_error(error.message)
    response = finish_login(request, user, method="webauthn")
    return JsonResponse({"redirect": response["Location"]})


def _verify_assertion(request: HttpRequest, user: User | None):
    body = _read_json_body(request)
    if body is None:
        # The challenge is spent on any attempt, readable or not.
        request.session.pop("webauthn_authenticate", None)
        raise WebAuthnError(
            "The browser sent an unreadable answer. Reload the page and retry.",
            reason="malformed",
        )
    return authenticate_credential(request=request, user=user, credential_json=json.dumps(body))


# -- Passkey login (no username) ----------------------------------------------------------


@never_cache
@ensure_csrf_cookie
@require_GET
def login_passkey(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/two_factor/login_passkey.html")


@never_cache
@require_POST
def passkey_login_options(request: HttpRequest) -> HttpResponse:
    return HttpResponse(
        authentication_options(request=request, user=None), content_type="application/json"
    )


@never_cache
@require_POST
def passkey_login_verify(request: HttpRequest) -> HttpResponse:
    retry_after = ratelimits.passkey_retry_after(request)
    if retry_after is not None:
        return _json_too_many(retry_after)
    try:
        credential = _verify_assertion(request, None)
    except WebAuthnError as error:
        log_refusal("passkey login", reason=f"invalid_webauthn:{error.reason}")
        ratelimits.count_passkey_failure(request)
        return _json_error(error.message)
    response = finish_login(request, credential.user, method="passkey")
    return JsonResponse({"redirect": response["Location"]})

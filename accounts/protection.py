"""What a page needs before it runs, declared once per view: `@protected(Need.X, ...)`.

Every session page states its needs with this one decorator, and the checks always run in the
same order, so a person always meets the same first redirect:

1. a login (or, for the second login step, a pending login: a password proved in this
   session, a second factor still to come) — else the login page;
2. a second factor, if the site's two-factor policy requires one — else two-factor setup,
   which returns the person to the page afterwards;
3. a fresh authentication (within REAUTH_MAX_AGE) — else the password is asked again, and the
   person comes back to the page they asked for.

The declaration stays on the view (`protection_of(view)`), so a test walking every URL can
check each page's needs against what it does.
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse

from accounts.login import get_pending_login_user
from accounts.next_urls import two_factor_setup_redirect, where_the_request_was_going
from accounts.policy_hook import two_factor_missing
from accounts.reauth import is_recently_authenticated

_View = TypeVar("_View", bound=Callable[..., HttpResponseBase])

TWO_FACTOR_REQUIRED_MESSAGE = (
    "Two-factor authentication is required for this action. Add a passkey, security key or "
    "authenticator app on this page; you then return to where you were going."
)
NO_PENDING_LOGIN_MESSAGE = (
    "Your login expired or was not started. Enter your username and password again."
)
REAUTH_FIRST_MESSAGE = "Confirm your password, then repeat the change."


class Need(StrEnum):
    LOGIN = "login"
    PENDING_LOGIN = "pending login"
    SECOND_FACTOR = "second factor"
    FRESH_AUTH = "fresh authentication"


@dataclass(frozen=True)
class Protection:
    """A view's declared needs.

    `answers_json`: a second-step script's endpoint, refused with a JSON 403 (the WebAuthn
    login ceremony shows its `error`), not a redirect. `returns_to`: the URL
    name a re-authentication returns to, for an action posted from that page (a POST cannot be
    repeated by a redirect); the person is asked to repeat the change.
    """

    needs: frozenset[Need]
    answers_json: bool = False
    returns_to: str = ""


def _declared(needs: tuple[Need, ...], *, answers_json: bool) -> frozenset[Need]:
    declared = set(needs)
    if answers_json and declared != {Need.PENDING_LOGIN}:
        # A logged-in script follows the redirect to the login or password page itself.
        raise ImproperlyConfigured("Only the second login step answers its refusal in JSON.")
    if declared & {Need.SECOND_FACTOR, Need.FRESH_AUTH}:
        declared.add(Need.LOGIN)
    if not declared or {Need.LOGIN, Need.PENDING_LOGIN} <= declared:
        raise ImproperlyConfigured(
            "A page needs a login or a pending login (the second login step), never both."
        )
    return frozenset(declared)


def protected(
    *needs: Need, answers_json: bool = False, returns_to: str = ""
) -> Callable[[_View], _View]:
    """Let a request through only when it has every one of `needs` (checked in the module's order).

    Under `Need.PENDING_LOGIN` the view is called with the pending login's user after the
    request: `view(request, user, ...)`. SECOND_FACTOR and FRESH_AUTH imply LOGIN.
    """
    protection = Protection(
        needs=_declared(needs, answers_json=answers_json),
        answers_json=answers_json,
        returns_to=returns_to,
    )

    def decorator(view: _View) -> _View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if Need.PENDING_LOGIN in protection.needs:
                user = get_pending_login_user(request)
                if user is None:
                    return _no_pending_login(request, protection)
                return view(request, user, *args, **kwargs)
            return _first_refusal(request, protection) or view(request, *args, **kwargs)

        wrapper.protection = protection  # type: ignore[attr-defined]
        return cast(_View, wrapper)

    return decorator


def protection_of(view: Callable[..., Any]) -> Protection | None:
    """The protection `view` declares (kept through `functools.wraps`), or None."""
    return getattr(view, "protection", None)


def _no_pending_login(request: HttpRequest, protection: Protection) -> HttpResponseBase:
    if protection.answers_json:
        return JsonResponse({"error": NO_PENDING_LOGIN_MESSAGE}, status=403)
    messages.error(request, NO_PENDING_LOGIN_MESSAGE)
    return redirect("accounts:login")


def _first_refusal(request: HttpRequest, protection: Protection) -> HttpResponseBase | None:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if Need.SECOND_FACTOR in protection.needs and two_factor_missing(request.user):
        messages.warning(request, TWO_FACTOR_REQUIRED_MESSAGE)
        # The detour keeps the page (accounts.next_urls): back here once a method is added.
        return two_factor_setup_redirect(request, next_url=where_the_request_was_going(request))
    if Need.FRESH_AUTH in protection.needs and not is_recently_authenticated(request):
        return _reauth(request, protection)
    return None


def _reauth(request: HttpRequest, protection: Protection) -> HttpResponseBase:
    """The password page, coming back to this page (or to `returns_to`) afterwards."""
    if not protection.returns_to:
        return redirect_to_login(request.get_full_path(), reverse("accounts:reauth"))
    messages.info(request, REAUTH_FIRST_MESSAGE)
    return redirect_to_login(reverse(protection.returns_to), reverse("accounts:reauth"))

"""Re-authentication: sensitive pages ask for the password again after REAUTH_MAX_AGE.

The time of the last authentication (login or re-authentication) is kept in the session.
"""

import time
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

AUTHENTICATED_AT_KEY = "authenticated_at"


def mark_authenticated(request: HttpRequest) -> None:
    """Record that the user proved who they are just now."""
    request.session[AUTHENTICATED_AT_KEY] = int(time.time())


def is_recently_authenticated(request: HttpRequest) -> bool:
    authenticated_at = request.session.get(AUTHENTICATED_AT_KEY)
    if not isinstance(authenticated_at, int):
        return False
    return time.time() - authenticated_at < settings.REAUTH_MAX_AGE.total_seconds()


def require_reauth(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Ask a logged-in user for their password again when they authenticated too long ago.

    Anonymous users go to the login page. The action is not performed until the user has
    re-authenticated; they then come back to the page they asked for (with GET).
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_recently_authenticated(request):
            return redirect_to_login(request.get_full_path(), reverse("accounts:reauth"))
        return view(request, *args, **kwargs)

    return wrapper


class ReauthRequiredMixin:
    """`require_reauth` for class-based views."""

    @classmethod
    def as_view(cls, **initkwargs):
        return require_reauth(super().as_view(**initkwargs))

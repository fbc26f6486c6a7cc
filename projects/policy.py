"""The one two-factor policy: must this user have a second factor to act?

Every protected view passes through `require_two_factor`, and the upload endpoint calls
`two_factor_missing` itself. `accounts` only answers "does this user have a second factor?".
"""

from collections.abc import Callable
from functools import wraps
from typing import TypeVar, cast

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from accounts.next_urls import two_factor_setup_redirect, where_the_request_was_going
from accounts.selectors import has_two_factor

# A view, as the decorators here take and give it back (its own signature kept).
_View = TypeVar("_View", bound=Callable[..., HttpResponseBase])

TWO_FACTOR_REQUIRED_MESSAGE = (
    "Two-factor authentication is required for this action. Add a passkey, security key or "
    "authenticator app on this page; you then return to where you were going."
)


def two_factor_required(user, project=None) -> bool:
    """Whether the policy requires `user` to have a second factor to manage or upload.

    `project`: the project the user is about to act on or join; under the "critical" policy a
    critical project requires a second factor even before the user holds a role on it.
    """
    if settings.TWO_FACTOR_POLICY == "critical":
        if project is not None and project.is_critical:
            return True
        return user.project_roles.filter(project__is_critical=True).exists()
    return True


def two_factor_missing(user, project=None, *, has_factor: bool | None = None) -> bool:
    """Whether `user` must add a second factor before acting (on `project`, if given).

    `has_factor`: whether the user has a second factor, when the caller has read it already.
    """
    if not two_factor_required(user, project):
        return False
    return not (has_two_factor(user) if has_factor is None else has_factor)


def admin_two_factor_missing(user) -> bool:
    """Whether a staff member lacks the second factor the admin always requires.

    The admin can change every project, so it needs a second factor whatever the policy.
    """
    return not has_two_factor(user)


def require_two_factor(view: _View) -> _View:
    """Send a logged-in user the policy covers to two-factor setup until they have a factor."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        if request.user.is_authenticated and two_factor_missing(request.user):
            messages.warning(request, TWO_FACTOR_REQUIRED_MESSAGE)
            return two_factor_setup_redirect(request, next_url=where_the_request_was_going(request))
        return view(request, *args, **kwargs)

    return cast(_View, wrapper)

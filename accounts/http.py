"""The request type of views only logged-in users reach, for type checkers."""

from django.http import HttpRequest

from accounts.models import User


class AuthenticatedRequest(HttpRequest):
    """A request `login_required` (or `require_reauth`) has let through: `user` is an account."""

    user: User

"""The request type of views only logged-in users reach, for type checkers."""

from django.http import HttpRequest

from accounts.models import User


class AuthenticatedRequest(HttpRequest):
    """A request `protected(...)` has let through with a login: `user` is an account."""

    user: User

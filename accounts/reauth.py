"""Re-authentication: sensitive pages ask for the password again after REAUTH_MAX_AGE.

The time of the last authentication (login or re-authentication) is kept in the session; pages
declare that they need it with `protected(Need.FRESH_AUTH)` (accounts.protection).
"""

import time

from django.conf import settings
from django.http import HttpRequest

AUTHENTICATED_AT_KEY = "authenticated_at"


def mark_authenticated(request: HttpRequest) -> None:
    """Record that the user proved who they are just now."""
    request.session[AUTHENTICATED_AT_KEY] = int(time.time())


def is_recently_authenticated(request: HttpRequest) -> bool:
    authenticated_at = request.session.get(AUTHENTICATED_AT_KEY)
    if not isinstance(authenticated_at, int):
        return False
    return time.time() - authenticated_at < settings.REAUTH_MAX_AGE.total_seconds()

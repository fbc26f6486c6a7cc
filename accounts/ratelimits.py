"""Rate limits on authentication and account actions, in one place.

Counters live in the cache (Redis in production), so every web process shares them. Limits are
checked before the expensive or sensitive work and counted on failure (logins, second factors)
or on use (emails, resets). Figures follow PyPI's (warehouse `config.py`).

Failed logins count per (account, client IP), per account across all IPs with a much higher
ceiling, per client IP, and all together. The (account, IP) key stops one place guessing at one
account; keying it on the account alone would let anyone lock a user out from everywhere with
ten wrong passwords (security.md §3A #1, #2). The account ceiling stops a slow guess at one
account from many places, the IP key stops one place from trying many accounts. The account key
is the submitted username, lower-cased, whether or not the account exists, so a limited answer
reveals nothing about which usernames are taken. Second-factor limits count per account and per
IP: only someone who already has the password reaches them.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from django_ratelimit.core import get_usage
from django_ratelimit.exceptions import Ratelimited

from index_site.client_ip import client_ip

logger = logging.getLogger(__name__)

TOO_MANY_ATTEMPTS_MESSAGE = (
    "There have been too many unsuccessful login attempts. Wait a few minutes, then try again."
)
# When the cache cannot say how long is left, ask the client to wait this long.
DEFAULT_RETRY_AFTER = 300


@dataclass(frozen=True)
class Limit:
    """`count` uses per window, in django-ratelimit's rate syntax (e.g. "10/5m")."""

    group: str
    rate: str


LOGIN_PER_USER_AND_IP = (Limit("accounts.login.user_ip", "10/5m"),)
# Every IP together, for one account: high enough that nobody can lock a user out cheaply.
LOGIN_PER_USER = (Limit("accounts.login.user", "100/5m"),)
LOGIN_PER_IP = (Limit("accounts.login.ip", "10/5m"),)
# All failed logins together: a distributed guess (many IPs, many accounts) still stops here.
LOGIN_GLOBAL = (Limit("accounts.login.global", "1000/5m"),)
TWO_FACTOR_PER_USER = (
    Limit("accounts.two_factor.user.short", "5/5m"),
    Limit("accounts.two_factor.user.hour", "20/h"),
    Limit("accounts.two_factor.user.day", "50/d"),
)
TWO_FACTOR_PER_IP = (
    Limit("accounts.two_factor.ip.short", "10/5m"),
    Limit("accounts.two_factor.ip.hour", "50/h"),
)
# Registrations per client IP: each can send an email, and accounts are not free to create.
REGISTER_PER_IP = (Limit("accounts.register.ip", "10/h"),)
EMAIL_ADD_PER_USER = (Limit("accounts.email.add", "2/d"),)
EMAIL_VERIFY_PER_USER = (Limit("accounts.email.verify", "3/6h"),)
PASSWORD_RESET_PER_USER = (Limit("accounts.password.reset", "5/d"),)


def _usage(request: HttpRequest, limit: Limit, value: str, *, increment: bool) -> dict | None:
    return get_usage(
        request,
        group=limit.group,
        key=lambda _group, _request: value,
        rate=limit.rate,
        increment=increment,
    )


def _retry_after(request: HttpRequest, checks: list[tuple[tuple[Limit, ...], str]]) -> int | None:
    """Seconds to wait when any of `checks` has no use left, else None. Counts nothing."""
    for limits, value in checks:
        for limit in limits:
            usage = _usage(request, limit, value, increment=False)
            # `count` is the uses so far: with none left, this attempt must not run at all.
            if usage is not None and usage["count"] >= usage["limit"]:
                time_left = usage["time_left"]
                return time_left if time_left > 0 else DEFAULT_RETRY_AFTER
    return None


def _count(request: HttpRequest, checks: list[tuple[tuple[Limit, ...], str]]) -> None:
    for limits, value in checks:
        for limit in limits:
            _usage(request, limit, value, increment=True)


def _username_key(username: str) -> str:
    return "user:" + username.strip().lower()


def _user_key(user) -> str:
    return f"user-id:{user.pk}"


def _ip_key(request: HttpRequest) -> str:
    return "ip:" + client_ip(request)


def _login_checks(request: HttpRequest, username: str) -> list[tuple[tuple[Limit, ...], str]]:
    return [
        (LOGIN_PER_USER_AND_IP, f"{_username_key(username)}|{_ip_key(request)}"),
        (LOGIN_PER_USER, _username_key(username)),
        (LOGIN_PER_IP, _ip_key(request)),
        (LOGIN_GLOBAL, "all"),
    ]


def login_retry_after(request: HttpRequest, *, username: str) -> int | None:
    """Seconds until `username` may try a password again from this client, else None.

    Check it before verifying any password; it counts nothing.
    """
    return _retry_after(request, _login_checks(request, username))


def count_login_failure(request: HttpRequest, *, username: str) -> None:
    """Count one failed password (login, re-authentication) for every login limit."""
    _count(request, _login_checks(request, username))


def _two_factor_checks(request: HttpRequest, user) -> list[tuple[tuple[Limit, ...], str]]:
    return [(TWO_FACTOR_PER_USER, _user_key(user)), (TWO_FACTOR_PER_IP, _ip_key(request))]


def two_factor_retry_after(request: HttpRequest, *, user) -> int | None:
    """Seconds until `user` may try a second factor again from this client, else None."""
    return _retry_after(request, _two_factor_checks(request, user))


def count_two_factor_failure(request: HttpRequest, *, user) -> None:
    """Count one failed second factor (TOTP, WebAuthn, recovery code) for the user and the IP."""
    _count(request, _two_factor_checks(request, user))


def passkey_retry_after(request: HttpRequest) -> int | None:
    """Seconds until this client may try a passkey login (no username) again, else None.

    No account is known before the passkey answers, so only the IP limits apply.
    """
    return _retry_after(request, [(TWO_FACTOR_PER_IP, _ip_key(request))])


def count_passkey_failure(request: HttpRequest) -> None:
    """Count one failed passkey login against the client IP."""
    _count(request, [(TWO_FACTOR_PER_IP, _ip_key(request))])


def consume(request: HttpRequest, *, limits: tuple[Limit, ...], key: str) -> int | None:
    """Use one of `limits` for `key`: return seconds to wait if none was left, else None.

    For actions limited on use rather than on failure (adding an email, resending a
    verification, requesting a password reset). A refused use is not counted.
    """
    retry_after = _retry_after(request, [(limits, key)])
    if retry_after is None:
        _count(request, [(limits, key)])
    return retry_after


def consume_registration(request: HttpRequest) -> int | None:
    """Use one registration for this client IP: seconds to wait if none was left, else None."""
    return consume(request, limits=REGISTER_PER_IP, key=_ip_key(request))


def too_many_attempts(request: HttpRequest, *, retry_after: int) -> HttpResponse:
    """The 429 page (settings.RATELIMIT_VIEW) with an exact Retry-After, and a log line."""
    logger.warning("ratelimited %s: ip=%s", request.path, client_ip(request))
    response = import_string(settings.RATELIMIT_VIEW)(request, Ratelimited())
    response.status_code = 429
    response["Retry-After"] = str(retry_after)
    return response

"""Rate limits on authentication and account actions, in one place.

Counters live in the cache (Redis in production), so every web process shares them. Limits are
checked before the expensive or sensitive work and counted on failure (logins, second factors)
or on use (emails, resets). Figures follow PyPI's (warehouse `config.py`).

Failed logins count per (account, client IP), per account across all IPs with a much higher
ceiling, and per client IP. The (account, IP) key stops one place guessing at one account;
keying it on the account alone would let anyone lock a user out from everywhere with ten wrong
passwords (security.md §3A #1, #2). The account ceiling stops a slow guess at one account from
many places, the IP key stops one place from trying many accounts. The account key is the
submitted username, lower-cased, whether or not the account exists, so a limited answer reveals
nothing about which usernames are taken. Second-factor limits count per account and per IP:
only someone who already has the password reaches them.

All failed logins together are counted too, but that count never refuses anyone by itself: a
global refusal would let a botnet lock every user out, the maintainer with the right password
included (ASVS 5.0 V6.1.1; NIST SP 800-63B §5.2.2). Past LOGIN_SURGE_FAILURES in five minutes
it turns a *surge* on (held for SURGE_HOLD after the last failure over the line, and logged)
and the surge raises the cost for clients the limiter does not know (`accounts.known_clients`):

    client                           (account, IP)  account  IP   device  surge: IP, network
    known device (signed cookie)          yes          -      -     yes          -
    signed in (re-auth, password change)  yes         yes     -      -           -
    known network (/24, /48)              yes         yes    yes     -           -
    unknown                               yes         yes    yes     -     during a surge

A known device has its own failure budget instead of the account's and the IP's, so a guess at
the account from elsewhere cannot lock that browser out, while a stolen cookie still gets ten
tries per five minutes and still needs the second factor (OWASP's device-cookie scheme). A
correct password from any client that is under its limits goes on to the second factor, surge
or not. Authenticated pages and token uploads never consult these limits.

Every refusal writes a log line and goes on a short, bounded list of the most refused accounts,
IPs and networks; an administrator sees the surge, the global count and that list on the admin
page and with `manage.py login_limits`, and can clear an account's, IP's or network's counters
(recorded as `admin:login_limits:cleared`). Clearing stores a new mark that is part of every
counter key of the subject, so all of its counters, those of its (account, IP) pairs included,
start again from zero without anyone listing them.
"""

import hashlib
import ipaddress
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from django_ratelimit.core import get_usage
from django_ratelimit.exceptions import Ratelimited

from accounts.known_clients import (
    IPV4_NETWORK_PREFIX,
    IPV6_NETWORK_PREFIX,
    ClientStanding,
    LoginClient,
    login_client,
    network_of,
)
from accounts.models import User
from auditlog.events import EventType
from auditlog.services import record_event
from index_site.client_ip import client_ip
from index_site.errors import UserFacingError

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
# A known device's own budget, in place of the account's and the IP's.
LOGIN_PER_DEVICE = (Limit("accounts.login.device", "10/5m"),)
# Unknown clients during a surge: three wrong passwords per IP, ten per /24 or /48 network (an
# IPv6 client has a whole /64 to rotate through, a rented block a whole /24).
SURGE_PER_IP = (Limit("accounts.login.surge.ip", "3/5m"),)
SURGE_PER_NETWORK = (Limit("accounts.login.surge.network", "10/5m"),)
# All failed logins together (settings.LOGIN_SURGE_FAILURES per window): the surge signal.
LOGIN_GLOBAL_GROUP = "accounts.login.global"
LOGIN_GLOBAL_WINDOW = "5m"
SURGE_KEY = "accounts.login.surge"
# Seconds a surge stays on after the last failure over the line: a window boundary resetting
# the global count must not switch it off in the middle of an attack.
SURGE_HOLD = 15 * 60
CLEARED_KEY_PREFIX = "accounts.login.cleared:"
# Longer than any login window, so no counter made before a clear outlives its mark.
CLEARED_MARK_TTL = 60 * 60
REFUSALS_KEY = "accounts.login.refusals"
REFUSALS_KEPT = 50
REFUSALS_TTL = 15 * 60
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


def _first_exhausted(
    request: HttpRequest, checks: list[tuple[tuple[Limit, ...], str]]
) -> tuple[int, int] | None:
    """(seconds to wait, index in `checks`) of the first check with no use left, else None."""
    for index, (limits, value) in enumerate(checks):
        for limit in limits:
            usage = _usage(request, limit, value, increment=False)
            # `count` is the uses so far: with none left, this attempt must not run at all.
            if usage is not None and usage["count"] >= usage["limit"]:
                time_left = usage["time_left"]
                return (time_left if time_left > 0 else DEFAULT_RETRY_AFTER), index
    return None


def _retry_after(request: HttpRequest, checks: list[tuple[tuple[Limit, ...], str]]) -> int | None:
    """Seconds to wait when any of `checks` has no use left, else None. Counts nothing."""
    exhausted = _first_exhausted(request, checks)
    return None if exhausted is None else exhausted[0]


def _count(request: HttpRequest, checks: list[tuple[tuple[Limit, ...], str]]) -> None:
    for limits, value in checks:
        for limit in limits:
            _usage(request, limit, value, increment=True)


def _user_key(user) -> str:
    return f"user-id:{user.pk}"


def _ip_key(request: HttpRequest) -> str:
    return "ip:" + client_ip(request)


@dataclass(frozen=True)
class _Subject:
    """What a counter is about (`name`, as shown to admins) and its key (`value`)."""

    name: str
    value: str


def _cleared_key(name: str) -> str:
    # Hashed: a submitted username may hold characters a cache key must not.
    return CLEARED_KEY_PREFIX + hashlib.sha256(name.encode()).hexdigest()


def _subject(name: str, marks: dict) -> _Subject:
    mark = marks.get(_cleared_key(name))
    return _Subject(name, f"{name}#{mark}" if mark else name)


def _global_limit() -> Limit:
    return Limit(LOGIN_GLOBAL_GROUP, f"{settings.LOGIN_SURGE_FAILURES}/{LOGIN_GLOBAL_WINDOW}")


@dataclass(frozen=True)
class LoginAttempt:
    """One password tried for an account by the client of `request`: its limits, its counts."""

    request: HttpRequest
    client: LoginClient
    is_surge: bool
    user: _Subject
    ip: _Subject
    network: _Subject

    def _checks(self, *, counting: bool) -> list[tuple[tuple[Limit, ...], _Subject]]:
        pair = _Subject(f"{self.user.name}|{self.ip.name}", f"{self.user.value}|{self.ip.value}")
        checks: list[tuple[tuple[Limit, ...], _Subject]] = [(LOGIN_PER_USER_AND_IP, pair)]
        standing = self.client.standing
        if standing is ClientStanding.KNOWN_DEVICE:
            device = _Subject(
                f"{self.user.name}|device", f"{self.user.value}|device:{self.client.device_id}"
            )
            return [*checks, (LOGIN_PER_DEVICE, device)]
        checks.append((LOGIN_PER_USER, self.user))
        if standing is ClientStanding.SIGNED_IN:
            return checks
        checks.append((LOGIN_PER_IP, self.ip))
        # Counted outside a surge too, so a surge that starts finds the counts already there;
        # a network that saw this account log in is never held to them.
        if counting or (self.is_surge and standing is ClientStanding.UNKNOWN):
            checks += [(SURGE_PER_IP, self.ip), (SURGE_PER_NETWORK, self.network)]
        return checks

    def retry_after(self) -> int | None:
        """Seconds until this client may try a password for the account again, else None.

        Check it before verifying any password; it counts nothing. A refusal is put on the
        list of the most refused subjects.
        """
        checks = self._checks(counting=False)
        exhausted = _first_exhausted(
            self.request, [(limits, subject.value) for limits, subject in checks]
        )
        if exhausted is None:
            return None
        retry_after, index = exhausted
        _note_refusal(checks[index][1].name)
        return retry_after

    def count_failure(self) -> None:
        """Count one wrong password (login, re-authentication) for every limit it feeds."""
        checks = self._checks(counting=True)
        _count(self.request, [(limits, subject.value) for limits, subject in checks])
        _count_toward_surge(self.request)


def login_attempt(request: HttpRequest, *, username: str) -> LoginAttempt:
    """The password attempt of this client for `username`, with what the limiter knows of it."""
    address = client_ip(request)
    names = ["user:" + username.strip().lower(), "ip:" + address, "net:" + network_of(address)]
    # One round trip for the surge flag and the subjects' clear marks.
    state = cache.get_many([SURGE_KEY, *(_cleared_key(name) for name in names)])
    is_surge = SURGE_KEY in state
    client = login_client(request, username=username, look_up_network=is_surge, address=address)
    user, ip, network = (_subject(name, state) for name in names)
    return LoginAttempt(
        request=request, client=client, is_surge=is_surge, user=user, ip=ip, network=network
    )


def _count_toward_surge(request: HttpRequest) -> None:
    """Count a failed login for the global signal; past the line, start or extend the surge."""
    usage = _usage(request, _global_limit(), "all", increment=True)
    if usage is None or not usage["limit"] or usage["count"] < usage["limit"]:
        return
    now = int(time.time())
    surge = cache.get(SURGE_KEY)
    if surge is None:
        logger.warning(
            "login surge started: failed_logins=%d window=%s", usage["count"], LOGIN_GLOBAL_WINDOW
        )
        surge = {"started_at": now}
    cache.set(SURGE_KEY, {**surge, "last_seen_at": now}, SURGE_HOLD)


def _note_refusal(name: str) -> None:
    """Keep `name` on the short list of the most refused subjects, for administrators.

    A read-modify-write of one small cache value: under many concurrent refusals a few
    increments are lost, so the counts are a guide; the limits themselves count exactly.
    """
    now = int(time.time())
    board = {
        subject: entry
        for subject, entry in (cache.get(REFUSALS_KEY) or {}).items()
        if now - entry[1] < REFUSALS_TTL
    }
    count = board.get(name, (0, now))[0]
    board[name] = (count + 1, now)
    if len(board) > REFUSALS_KEPT:
        # Ties go to the newest, so a new subject is not dropped for an old one.
        kept = sorted(board.items(), key=lambda item: item[1], reverse=True)[:REFUSALS_KEPT]
        board = dict(kept)
    cache.set(REFUSALS_KEY, board, REFUSALS_TTL)


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


# -- What administrators see and do ---------------------------------------------------------

SUBJECT_MESSAGE = (
    "Give a username, an IP address, or a network as a /24 (IPv4) or /48 (IPv6) such as "
    "198.51.100.0/24."
)


class LimitSubjectError(UserFacingError, ValueError):
    """A clear request named nothing the login limits count."""


@dataclass(frozen=True)
class Refusal:
    subject: str
    count: int
    last_refused_at: datetime

    @property
    def kind(self) -> str:
        """What the subject is, in words: "account", "IP", "network", "account and IP"..."""
        if self.subject.endswith("|device"):
            return "account on a known device"
        if "|" in self.subject:
            return "account and IP"
        prefix = self.subject.split(":", 1)[0]
        return {"user": "account", "ip": "IP", "net": "network"}[prefix]

    @property
    def parts(self) -> list[tuple[str, str]]:
        """("account" or "address", value) for each clearable part, as `limit_subject` takes."""
        kinds = {"user": "account", "ip": "address", "net": "address"}
        pairs = (part.partition(":") for part in self.subject.split("|"))
        return [(kinds[kind], value) for kind, _, value in pairs if kind in kinds]


@dataclass(frozen=True)
class LoginLimiterState:
    is_surge: bool
    surge_started_at: datetime | None
    surge_last_seen_at: datetime | None
    # Failed logins in the current global window, and how many turn the surge on.
    global_failures: int
    surge_threshold: int
    # The most refused subjects of the last REFUSALS_TTL seconds, most refused first.
    refusals: list[Refusal]


def _as_datetime(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


def login_limiter_state() -> LoginLimiterState:
    """The surge, the global count and the most refused subjects, as the cache holds them."""
    surge = cache.get(SURGE_KEY) or {}
    usage = _usage(HttpRequest(), _global_limit(), "all", increment=False)
    board = cache.get(REFUSALS_KEY) or {}
    refusals = [
        Refusal(subject=subject, count=count, last_refused_at=_as_datetime(last))
        for subject, (count, last) in sorted(board.items(), key=lambda item: item[1], reverse=True)
    ]
    return LoginLimiterState(
        is_surge=bool(surge),
        surge_started_at=_as_datetime(surge["started_at"]) if surge else None,
        surge_last_seen_at=_as_datetime(surge["last_seen_at"]) if surge else None,
        global_failures=usage["count"] if usage else 0,
        surge_threshold=settings.LOGIN_SURGE_FAILURES,
        refusals=refusals,
    )


def limit_subject(*, account: str = "", address: str = "") -> str:
    """The counted subject of a username ("user:…"), or of an IP address ("ip:…") or /24 or
    /48 network ("net:…"). Raise LimitSubjectError if neither names one."""
    account, address = account.strip(), address.strip()
    if account:
        return "user:" + account.lower()
    try:
        return "ip:" + str(ipaddress.ip_address(address))
    except ValueError:
        pass
    try:
        network = ipaddress.ip_network(address, strict=False)
    except ValueError as error:
        raise LimitSubjectError(SUBJECT_MESSAGE) from error
    prefix = IPV4_NETWORK_PREFIX if network.version == 4 else IPV6_NETWORK_PREFIX
    if network.prefixlen != prefix:
        raise LimitSubjectError(SUBJECT_MESSAGE)
    return "net:" + str(network)


@transaction.atomic
def clear_login_limits(
    *, subject: str, actor: User | None, request: HttpRequest | None = None
) -> None:
    """Start every login counter of `subject` (from `limit_subject`) again from zero.

    The account's (account, IP) pairs and known-device budgets are cleared with it. Recorded
    as `admin:login_limits:cleared`, in the account's history when the subject is one.
    """
    kind, _, name = subject.partition(":")
    account = User.objects.filter(username__iexact=name).first() if kind == "user" else None
    record_event(
        event_type=EventType.ADMIN_LOGIN_LIMITS_CLEARED,
        actor=actor,
        user=account or actor,
        request=request,
        data={"subject": subject},
    )
    # Inside the transaction: if the cache cannot take the mark, no clear is recorded.
    cache.set(_cleared_key(subject), secrets.token_hex(8), CLEARED_MARK_TTL)
    board = cache.get(REFUSALS_KEY) or {}
    kept = {key: entry for key, entry in board.items() if subject not in key.split("|")}
    cache.set(REFUSALS_KEY, kept, REFUSALS_TTL)

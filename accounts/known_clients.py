"""What the login limiter knows about the client in front of it: a known device or network.

A complete login (every step the account needs: password and second factor, or a passkey)
leaves a *known-device cookie* in the browser: signed with the server's key, HttpOnly, Secure
whenever the session cookie is, sent only to /account/, valid for KNOWN_DEVICE_MAX_AGE. It
names the user and carries a random device id and an HMAC of the user's password hash and
session epoch, so a password change, a reset or any change of second factor (each raises the
epoch or changes the hash) voids every cookie issued before. It cannot be forged (signature),
moved to another account (the user id and fingerprint must match the account being logged
into) or replayed after its owner changed how they log in.

A *known network* is the client's /24 (IPv4) or /48 (IPv6) when a complete login of the
account came from it within KNOWN_NETWORK_MAX_AGE. It is read from the audit log, which
already records every successful login with its address inside the login's transaction:
no second table to keep in step, nothing new to prune, and the answer is exactly the history
the user sees on their security page. The lookup is one indexed query over the account's
newest login events, made only while a surge is on (`accounts.ratelimits`).
"""

import ipaddress
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts.models import User
from auditlog.selectors import login_addresses_for_username

KNOWN_DEVICE_COOKIE = "known_device"
KNOWN_DEVICE_SALT = "accounts.known_clients.device"
KNOWN_DEVICE_MAX_AGE = int(timedelta(days=90).total_seconds())
# Only the account pages that check a password read the cookie.
KNOWN_DEVICE_COOKIE_PATH = "/account/"
# Where complete_login leaves the new cookie for KnownDeviceCookieMiddleware (like Django's
# CSRF cookie): the login may end in a redirect or in a JSON answer, and both must carry it.
KNOWN_DEVICE_META_KEY = "accounts.known_device_cookie"
KNOWN_NETWORK_MAX_AGE = timedelta(days=90)
# The newest logins looked at: enough for someone moving between a few places.
KNOWN_NETWORK_LOGINS = 50
IPV4_NETWORK_PREFIX = 24
IPV6_NETWORK_PREFIX = 48


class ClientStanding(StrEnum):
    """How well the login limiter knows the client trying a password for an account."""

    # A valid known-device cookie of this account.
    KNOWN_DEVICE = "known_device"
    # A session already logged in as this account (re-authentication, password change).
    SIGNED_IN = "signed_in"
    # The client's network saw a complete login of this account recently.
    KNOWN_NETWORK = "known_network"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class LoginClient:
    standing: ClientStanding
    # The known-device cookie's random id (KNOWN_DEVICE only): its own failure budget.
    device_id: str = ""


def network_of(address: str) -> str:
    """The /24 (IPv4) or /48 (IPv6) holding `address`, as "198.51.100.0/24"; "" if none."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""
    prefix = IPV4_NETWORK_PREFIX if ip.version == 4 else IPV6_NETWORK_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def _device_fingerprint(user: User) -> str:
    """An HMAC of what a password change, reset or factor change alters (never the hash)."""
    return salted_hmac(
        KNOWN_DEVICE_SALT, f"{user.pk}|{user.password}|{user.session_epoch}", algorithm="sha256"
    ).hexdigest()


def _read_device_cookie(request: HttpRequest) -> dict | None:
    token = request.COOKIES.get(KNOWN_DEVICE_COOKIE)
    if not token:
        return None
    try:
        payload = signing.loads(token, salt=KNOWN_DEVICE_SALT, max_age=KNOWN_DEVICE_MAX_AGE)
    except signing.BadSignature:  # also SignatureExpired
        return None
    return payload if isinstance(payload, dict) else None


def known_device_id(request: HttpRequest, *, username: str) -> str:
    """The device id of this browser's known-device cookie for `username`, else ""."""
    payload = _read_device_cookie(request)
    if payload is None:
        return ""
    user_id, device_id = payload.get("user_id"), payload.get("device_id")
    if not isinstance(user_id, int) or not isinstance(device_id, str):
        return ""
    user = User.objects.filter(
        pk=user_id, username__iexact=username.strip(), is_active=True
    ).first()
    if user is None or not constant_time_compare(
        str(payload.get("fingerprint", "")), _device_fingerprint(user)
    ):
        return ""
    return device_id


def remember_device(request: HttpRequest, user: User) -> None:
    """Have the response to `request` carry a known-device cookie for `user`.

    A browser that already holds a valid cookie of this user keeps its device id, so its
    failure budget is the same one.
    """
    device_id = known_device_id(request, username=user.username) or secrets.token_urlsafe(12)
    request.META[KNOWN_DEVICE_META_KEY] = signing.dumps(
        {"user_id": user.pk, "device_id": device_id, "fingerprint": _device_fingerprint(user)},
        salt=KNOWN_DEVICE_SALT,
    )


class KnownDeviceCookieMiddleware:
    """Set the known-device cookie that `remember_device` left for this response."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        token = request.META.get(KNOWN_DEVICE_META_KEY)
        if token:
            response.set_cookie(
                KNOWN_DEVICE_COOKIE,
                token,
                max_age=KNOWN_DEVICE_MAX_AGE,
                path=KNOWN_DEVICE_COOKIE_PATH,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response


def is_known_network(*, username: str, address: str) -> bool:
    """Whether a complete login of `username` came from the network of `address` recently."""
    network = network_of(address)
    if not network:
        return False
    addresses = login_addresses_for_username(
        username.strip(),
        since=timezone.now() - KNOWN_NETWORK_MAX_AGE,
        limit=KNOWN_NETWORK_LOGINS,
    )
    return any(network_of(seen) == network for seen in addresses)


def login_client(
    request: HttpRequest, *, username: str, look_up_network: bool, address: str
) -> LoginClient:
    """How well the client of `request` is known for `username` (checked in this order).

    The network lookup is a database query, so the caller asks for it only when the answer
    changes a limit (during a surge).
    """
    device_id = known_device_id(request, username=username)
    if device_id:
        return LoginClient(ClientStanding.KNOWN_DEVICE, device_id=device_id)
    user = getattr(request, "user", None)
    if (
        user is not None
        and user.is_authenticated
        and user.username.lower() == username.strip().lower()
    ):
        return LoginClient(ClientStanding.SIGNED_IN)
    if look_up_network and is_known_network(username=username, address=address):
        return LoginClient(ClientStanding.KNOWN_NETWORK)
    return LoginClient(ClientStanding.UNKNOWN)

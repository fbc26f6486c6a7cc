"""The new-sign-in email: a login from a browser the account has not completed a login in
before, or a login that came after failed attempts, is told to the account's owner.

A login after failures is the one an owner most needs to hear about (someone guessed right,
or it was them after typos), so that email says how many attempts failed, since when and from
where. A first-ever login (just after registering) is not news and sends nothing.
"""

from datetime import datetime, timedelta

from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User
from accounts.selectors import verified_primary_email_for_user
from auditlog.clients import client_in_words
from auditlog.events import EventType
from auditlog.selectors import recent_events
from index_site.client_ip import client_ip
from index_site.email import queue_email
from index_site.links import absolute_url

# Failed attempts this recent (and after the previous login) are mentioned in the email.
FAILURES_LOOKBACK = timedelta(hours=24)
MAX_ADDRESSES = 10
MAX_FAILURES_READ = 1000  # a count beyond this reads as "1000", and the query stays bounded
METHODS_IN_WORDS = {
    "password": "your password only",
    "totp": "your password and an authenticator app code",
    "webauthn": "your password and a security key",
    "passkey": "a passkey",
    "recovery_code": "your password and a recovery code",
}


def notify_sign_in(
    request: HttpRequest,
    user: User,
    *,
    method: str,
    previous_login: datetime | None,
    is_new_device: bool,
) -> None:
    """Email `user` about the login `request` just completed, when it is news (see above)."""
    if previous_login is None:
        return
    now = timezone.now()
    recent = max(previous_login, now - FAILURES_LOOKBACK)
    # The login before this one (this one's event is the newest): failures before it were
    # followed by a login already, and were told then.
    before = (
        recent_events(user, EventType.ACCOUNT_LOGIN_SUCCESS, since=recent)
        .order_by("-pk")
        .values_list("pk", flat=True)[1:2]
    )
    failures = list(
        recent_events(user, EventType.ACCOUNT_LOGIN_FAILURE, since=recent)
        .filter(pk__gt=before[0] if before else 0)
        .order_by("pk")
        .values_list("occurred_at", "ip_address")[:MAX_FAILURES_READ]
    )
    if not failures and not is_new_device:
        return
    email = verified_primary_email_for_user(user)
    if email is None:
        return
    addresses = list(dict.fromkeys(address for _at, address in failures if address))
    queue_email(
        recipients=[email.email],
        template="accounts/new_sign_in",
        context={
            "user": user,
            "signed_in_at": now,
            "address": client_ip(request),
            "client": client_in_words(request.headers.get("user-agent", "")),
            "method": METHODS_IN_WORDS.get(method, "a second factor"),
            "failures": len(failures),
            "first_failure_at": failures[0][0] if failures else None,
            "failure_addresses": addresses[:MAX_ADDRESSES],
            "more_addresses": max(len(addresses) - MAX_ADDRESSES, 0),
            "history_url": absolute_url("accounts:security_history"),
            "reset_url": absolute_url("accounts:password_reset"),
            "two_factor_url": absolute_url("accounts:two_factor"),
        },
    )

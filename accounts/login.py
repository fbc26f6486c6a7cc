"""Login mechanics shared by the password step and the second-factor step.

The flow: a correct password either completes the login (no second factor) or starts a
*pending login* (the user has one). The pending login is a signed token in the session, bound to
the user and to their password hash and last login, valid for PENDING_LOGIN_MAX_AGE; the
second-factor step reads it with `get_pending_login_user` and ends with `finish_login`.
The session key rotates at both steps, so a planted session id never becomes authenticated.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, login
from django.contrib.auth.models import AnonymousUser
from django.core import signing
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, resolve_url
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts.known_clients import known_device_id, remember_device
from accounts.models import User
from accounts.next_urls import safe_next_url, two_factor_setup_redirect
from accounts.policy_hook import two_factor_missing
from accounts.reauth import mark_authenticated
from accounts.selectors import has_two_factor, verified_primary_email_for_user
from accounts.sign_in_notices import notify_sign_in
from auditlog.events import EventType
from auditlog.selectors import recent_events
from auditlog.services import record_event
from index_site.client_ip import client_ip
from index_site.email import queue_email
from index_site.links import absolute_url
from index_site.refusals import log_refusal

logger = logging.getLogger(__name__)

# This many failed login steps within FAILURE_BURST_WINDOW email the account's owner, at most
# once per FAILURE_BURST_NOTICE_EVERY.
FAILURE_BURST_SIZE = 5
FAILURE_BURST_WINDOW = timedelta(minutes=15)
FAILURE_BURST_NOTICE_EVERY = timedelta(hours=24)
PENDING_LOGIN_KEY = "pending_login"
PENDING_LOGIN_NEXT_KEY = "pending_login_next"
PENDING_LOGIN_SALT = "accounts.login.pending"
PENDING_LOGIN_MAX_AGE = 5 * 60
# Set by complete_login: whether this session's login was completed with a second factor, and
# by mark_second_factor_verified when the session proves a factor it has just enrolled. The admin
# requires it: an account that has a factor is not enough, the session must have used one.
SECOND_FACTOR_VERIFIED_KEY = "second_factor_verified"
SECOND_FACTOR_METHODS = frozenset({"totp", "webauthn", "passkey", "recovery_code"})
TWO_FACTOR_SETUP_MESSAGE = (
    "Your account needs two-factor authentication before you can manage projects or upload. "
    "Add a passkey, security key or authenticator app below."
)


def _login_fingerprint(user: User) -> str:
    """An HMAC of what a later login or password change alters, so either kills the token.

    The password hash itself never goes into the session, only this keyed digest of it.
    """
    last_login = user.last_login.isoformat() if user.last_login else ""
    return salted_hmac(
        PENDING_LOGIN_SALT, f"{user.pk}|{user.password}|{last_login}", algorithm="sha256"
    ).hexdigest()


def check_password_for_login(*, username: str, password: str) -> tuple[User | None, bool]:
    """The account named `username` (None if there is none) and whether `password` is right.

    Inactive accounts are returned too: only a caller holding the right password may say an
    account is disabled. For an unknown username the hasher runs anyway on the submitted
    password, as Django's ModelBackend does, so both answers take as long.
    """
    user = User.objects.filter(username__iexact=username).first()
    if user is None:
        User().set_password(password)
        return None, False
    return user, user.check_password(password)


def start_pending_login(request: HttpRequest, user: User, *, next_url: str = "") -> None:
    """Remember that `user` passed the password step and still owes a second factor.

    The session key changes (an id known before the password step is useless after it), and an
    existing login in this session ends.
    `next_url` (checked again when used) is where `finish_login` sends the user.
    """
    token = signing.dumps(
        {"user_id": user.pk, "fingerprint": _login_fingerprint(user)}, salt=PENDING_LOGIN_SALT
    )
    if SESSION_KEY in request.session:
        # Someone is logged in in this browser: that session ends before another login starts,
        # so the second step never runs inside an authenticated session.
        request.session.flush()
        request.user = AnonymousUser()
    else:
        request.session.cycle_key()
    request.session[PENDING_LOGIN_KEY] = token
    request.session[PENDING_LOGIN_NEXT_KEY] = next_url


def get_pending_login_user(request: HttpRequest) -> User | None:
    """The user of a valid, unexpired pending login in this session, else None."""
    token = request.session.get(PENDING_LOGIN_KEY)
    if not isinstance(token, str):
        return None
    try:
        payload = signing.loads(token, salt=PENDING_LOGIN_SALT, max_age=PENDING_LOGIN_MAX_AGE)
    except signing.BadSignature:  # also SignatureExpired
        return None
    user = User.objects.filter(pk=payload.get("user_id"), is_active=True).first()
    if user is None or not constant_time_compare(
        payload.get("fingerprint", ""), _login_fingerprint(user)
    ):
        return None
    return user


def pending_login_next_url(request: HttpRequest) -> str:
    """The safe `next` URL given at the password step, or ""."""
    return safe_next_url(request, request.session.get(PENDING_LOGIN_NEXT_KEY))


def clear_pending_login(request: HttpRequest) -> None:
    request.session.pop(PENDING_LOGIN_KEY, None)
    request.session.pop(PENDING_LOGIN_NEXT_KEY, None)


@transaction.atomic
def complete_login(request: HttpRequest, user: User, *, method: str) -> None:
    """Log `user` in: a new session key and CSRF token, the login recorded as authenticated.

    `method` names how the last step was proved ("password", "totp", "webauthn", "passkey",
    "recovery_code"); a second factor marks the session (`second_factor_verified`). The
    `account:login:success` event commits with the new last_login, and the response carries a
    known-device cookie (`accounts.known_clients`).
    """
    previous_login = user.last_login
    is_new_device = not known_device_id(request, username=user.username)
    # login() cycles the session key (keeping its data) and updates last_login, which also
    # invalidates every pending-login token and password-reset link issued before.
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    # A timedelta fixes the deadline at now + SESSION_COOKIE_AGE (12 h), so saving the session
    # later (a re-authentication, a message) never extends the login: NIST SP 800-63B §4.2.3
    # asks for a new login at least every 12 hours, whatever the activity.
    request.session.set_expiry(timedelta(seconds=settings.SESSION_COOKIE_AGE))
    clear_pending_login(request)
    mark_authenticated(request)
    request.session[SECOND_FACTOR_VERIFIED_KEY] = method in SECOND_FACTOR_METHODS
    # Every step the account needs is done: this browser becomes a known device of the user.
    remember_device(request, user)
    record_event(
        event_type=EventType.ACCOUNT_LOGIN_SUCCESS,
        actor=user,
        request=request,
        data={"method": method},
    )
    notify_sign_in(
        request, user, method=method, previous_login=previous_login, is_new_device=is_new_device
    )


def mark_second_factor_verified(request: HttpRequest) -> None:
    """Record that this session just proved a second factor by enrolling it (a code, a key).

    Proving the factor at enrolment is the same proof a new login with it would give seconds
    later, so the person is not sent to log out and in again before opening the admin.
    """
    request.session[SECOND_FACTOR_VERIFIED_KEY] = True


def second_factor_verified(request: HttpRequest) -> bool:
    """Whether the login of this session was completed with a second factor."""
    return request.session.get(SECOND_FACTOR_VERIFIED_KEY) is True


@transaction.atomic
def record_login_failure(request: HttpRequest, *, user: User | None, reason: str) -> None:
    """Record a failed login step for `user`; for an unknown username write only a log line.

    Unauthenticated noise never reaches the audit table (it would let anyone fill it), and the
    log line carries neither the submitted username nor any secret.
    """
    if user is None:
        logger.info(
            "login failure for an unknown username: reason=%s ip=%s", reason, client_ip(request)
        )
        return
    log_refusal("login step", reason=reason, user_id=user.pk)
    record_event(
        event_type=EventType.ACCOUNT_LOGIN_FAILURE,
        actor=user,
        request=request,
        data={"reason": reason},
    )
    _notice_failure_burst(request, user)


def _notice_failure_burst(request: HttpRequest, user: User) -> None:
    """Email the owner once when failed password or second-factor steps come in a burst.

    At most one notice per FAILURE_BURST_NOTICE_EVERY, whatever the attack's size, recorded as
    an event in the same transaction as the failure that crossed the line.
    """
    now = timezone.now()
    failures = list(
        recent_events(user, EventType.ACCOUNT_LOGIN_FAILURE, since=now - FAILURE_BURST_WINDOW)
        .order_by("pk")
        .values_list("occurred_at", "ip_address")[: FAILURE_BURST_SIZE * 20]
    )
    if len(failures) < FAILURE_BURST_SIZE:
        return
    since_notice = now - FAILURE_BURST_NOTICE_EVERY
    if recent_events(user, EventType.ACCOUNT_LOGIN_FAILURE_BURST, since=since_notice).exists():
        return
    addresses = list(dict.fromkeys(address for _at, address in failures if address))
    record_event(
        event_type=EventType.ACCOUNT_LOGIN_FAILURE_BURST,
        actor=None,
        user=user,
        request=request,
        data={"failures": len(failures), "addresses": addresses[:10]},
    )
    email = verified_primary_email_for_user(user)
    if email is None:
        return
    queue_email(
        recipients=[email.email],
        template="accounts/login_failures",
        context={
            "user": user,
            "failures": len(failures),
            "first_at": failures[0][0],
            "addresses": addresses[:10],
            "more_addresses": max(len(addresses) - 10, 0),
            "reset_url": absolute_url("accounts:password_reset"),
            "history_url": absolute_url("accounts:security_history"),
        },
    )


def login_redirect(request: HttpRequest, user: User, *, next_url: str = "") -> HttpResponse:
    """Where a freshly logged-in user goes: two-factor setup if the policy needs it, else next."""
    if two_factor_missing(user):
        messages.warning(request, TWO_FACTOR_SETUP_MESSAGE)
        return two_factor_setup_redirect(request, next_url=next_url)
    return HttpResponseRedirect(
        safe_next_url(request, next_url) or resolve_url(settings.LOGIN_REDIRECT_URL)
    )


def finish_login(request: HttpRequest, user: User, *, method: str) -> HttpResponse:
    """Complete a login and redirect to the `next` of the pending login (second-factor step)."""
    next_url = pending_login_next_url(request)
    complete_login(request, user, method=method)
    return login_redirect(request, user, next_url=next_url)


def finish_password_step(request: HttpRequest, user: User, *, next_url: str = "") -> HttpResponse:
    """After a correct password: log in, or hand over to the second-factor step."""
    if has_two_factor(user):
        start_pending_login(request, user, next_url=safe_next_url(request, next_url))
        return redirect("accounts:login_two_factor")
    complete_login(request, user, method="password")
    return login_redirect(request, user, next_url=next_url)

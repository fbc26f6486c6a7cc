"""Account writes: registration, email addresses, passwords, logout, account state.

Each service is one transaction with its audit event inside; emails go through the outbox in
the same transaction, so a rolled-back change sends nothing.
"""

import logging
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import ratelimits
from accounts.models import Email, User
from accounts.notifications import email_user
from accounts.selectors import verified_primary_email_for_user
from accounts.sessions import end_other_sessions
from auditlog.events import EventType
from auditlog.services import record_event
from index_site.client_ip import client_ip
from index_site.email import queue_email
from index_site.errors import UserFacingError
from index_site.links import absolute_url

logger = logging.getLogger(__name__)

EMAIL_VERIFICATION_SALT = "accounts.email.verify"
# Seconds between two "someone tried to use your address" notices to one address.
ADDRESS_IN_USE_NOTICE_INTERVAL = 24 * 60 * 60


class AccountError(UserFacingError):
    """An account change was refused; the message is a sentence for the user."""


class UsernameTakenError(AccountError):
    pass


# Registration and verification -------------------------------------------------------------


def make_email_verification_token(email: Email) -> str:
    """A signed token naming this address; it stops working after EMAIL_VERIFICATION_MAX_AGE."""
    return signing.dumps(
        {"email_id": email.pk, "email": email.email.lower()}, salt=EMAIL_VERIFICATION_SALT
    )


def send_verification_email(*, email: Email) -> None:
    token = make_email_verification_token(email)
    queue_email(
        recipients=[email.email],
        template="accounts/verify_email",
        context={
            "user": email.user,
            "email": email.email,
            "verify_url": absolute_url("accounts:verify_email", query={"token": token}),
            "max_age_hours": settings.EMAIL_VERIFICATION_MAX_AGE // 3600,
        },
    )


def _send_address_in_use_notice(*, address: str, action: str) -> None:
    """Tell the owner of `address` that someone tried to use it, without telling that someone.

    At most one notice per address per ADDRESS_IN_USE_NOTICE_INTERVAL: repeated registrations
    with someone's address must not become a way to flood their inbox.
    """
    if not cache.add(
        f"accounts:address-in-use:{address.strip().lower()}",
        True,
        timeout=ADDRESS_IN_USE_NOTICE_INTERVAL,
    ):
        return
    queue_email(
        recipients=[address],
        template="accounts/address_in_use",
        context={
            "email": address,
            "action": action,
            "login_url": absolute_url("accounts:login"),
            "reset_url": absolute_url("accounts:password_reset"),
        },
    )


@transaction.atomic
def register_user(
    *, username: str, name: str, email: str, password: str, request: HttpRequest | None = None
) -> User | None:
    """Create an account with an unverified primary address and email a verification link.

    When the address already belongs to an account, create nothing, email its owner that
    someone tried to register with it, and return None: the caller answers exactly as for a
    new account, so registration never reveals which addresses are in use.
    Raise UsernameTakenError when the username is taken (usernames are public anyway).
    """
    if Email.objects.filter(email__iexact=email).exists():
        _send_address_in_use_notice(address=email, action="register")
        return None
    if User.objects.filter(username__iexact=username).exists():
        raise UsernameTakenError("This username is taken. Choose another one.")
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, name=name, password=password)
            address = Email.objects.create(user=user, email=email, is_primary=True)
    except IntegrityError:
        # A concurrent registration took the username or the address between the checks above.
        if Email.objects.filter(email__iexact=email).exists():
            _send_address_in_use_notice(address=email, action="register")
            return None
        raise UsernameTakenError("This username is taken. Choose another one.") from None
    record_event(event_type=EventType.ACCOUNT_CREATE, actor=user, request=request)
    record_event(
        event_type=EventType.ACCOUNT_EMAIL_ADD,
        actor=user,
        request=request,
        data={"email": address.email},
    )
    send_verification_email(email=address)
    return user


@transaction.atomic
def verify_email(*, token: str, request: HttpRequest | None = None) -> Email | None:
    """Mark the address named by `token` verified; None when the token is invalid or expired."""
    try:
        payload = signing.loads(
            token, salt=EMAIL_VERIFICATION_SALT, max_age=settings.EMAIL_VERIFICATION_MAX_AGE
        )
    except signing.BadSignature:  # also SignatureExpired
        return None
    email = (
        Email.objects.select_for_update()
        .select_related("user")
        .filter(pk=payload.get("email_id"), email__iexact=payload.get("email", ""))
        .first()
    )
    if email is None:
        return None
    if not email.is_verified:
        email.is_verified = True
        email.verified_at = timezone.now()
        email.save(update_fields=["is_verified", "verified_at"])
        record_event(
            event_type=EventType.ACCOUNT_EMAIL_VERIFIED,
            actor=email.user,
            request=request,
            data={"email": email.email},
        )
    return email


# Profile and email addresses ---------------------------------------------------------------


@transaction.atomic
def update_profile(*, user: User, name: str, request: HttpRequest | None = None) -> None:
    """Change the user's display name (recorded, old and new, when it changes)."""
    if user.name == name:
        return
    old_name = user.name
    user.name = name
    user.save(update_fields=["name"])
    record_event(
        event_type=EventType.ACCOUNT_PROFILE_CHANGE,
        actor=user,
        request=request,
        data={"name": {"old": old_name, "new": name}},
    )


@transaction.atomic
def add_email(*, user: User, address: str, request: HttpRequest | None = None) -> Email | None:
    """Add an unverified address to `user` and email it a verification link.

    When another account holds the address, add nothing, tell that address's owner, and return
    None: the caller shows the same "check your inbox" answer, revealing nothing.
    """
    if user.emails.filter(email__iexact=address).exists():
        raise AccountError("This address is already on your account.")
    if Email.objects.filter(email__iexact=address).exists():
        _send_address_in_use_notice(address=address, action="add")
        return None
    try:
        with transaction.atomic():
            email = Email.objects.create(user=user, email=address)
    except IntegrityError:
        _send_address_in_use_notice(address=address, action="add")
        return None
    record_event(
        event_type=EventType.ACCOUNT_EMAIL_ADD,
        actor=user,
        request=request,
        data={"email": email.email},
    )
    send_verification_email(email=email)
    return email


def resend_verification(*, email: Email) -> None:
    if email.is_verified:
        raise AccountError("This address is already verified.")
    send_verification_email(email=email)


@transaction.atomic
def make_primary_email(*, user: User, email: Email, request: HttpRequest | None = None) -> None:
    """Make a verified address primary and tell the old primary address about it."""
    if email.user_id != user.pk:
        raise AccountError("This address is not on your account.")
    if not email.is_verified:
        raise AccountError("Verify this address first, then make it primary.")
    if email.is_primary:
        return
    old = user.emails.select_for_update().filter(is_primary=True).first()
    if old is not None:
        old.is_primary = False
        old.save(update_fields=["is_primary"])
    email.is_primary = True
    email.save(update_fields=["is_primary"])
    record_event(
        event_type=EventType.ACCOUNT_EMAIL_PRIMARY_CHANGE,
        actor=user,
        request=request,
        data={"old_email": old.email if old else "", "new_email": email.email},
    )
    if old is not None and old.is_verified:
        # To the OLD address: if someone else made this change, its owner still hears of it.
        queue_email(
            recipients=[old.email],
            template="accounts/primary_email_changed",
            context={
                "user": user,
                "old_email": old.email,
                "new_email": email.email,
                "settings_url": absolute_url("accounts:settings"),
                "reset_url": absolute_url("accounts:password_reset"),
            },
        )


@transaction.atomic
def remove_email(*, user: User, email: Email, request: HttpRequest | None = None) -> None:
    if email.user_id != user.pk:
        raise AccountError("This address is not on your account.")
    if email.is_primary:
        raise AccountError("Make another verified address primary first, then remove this one.")
    address = email.email
    email.delete()
    record_event(
        event_type=EventType.ACCOUNT_EMAIL_REMOVE,
        actor=user,
        request=request,
        data={"email": address},
    )


# Passwords ---------------------------------------------------------------------------------


def _set_password(user: User, password: str) -> None:
    user.set_password(password)
    user.password_changed_at = timezone.now()
    user.save(update_fields=["password", "password_changed_at"])


def _send_password_changed(user: User) -> None:
    email_user(
        user=user,
        template="accounts/password_changed",
        context={
            "reset_url": absolute_url("accounts:password_reset"),
            "history_url": absolute_url("accounts:security_history"),
        },
    )


@transaction.atomic
def change_password(*, user: User, new_password: str, request: HttpRequest | None = None) -> None:
    """Set a new password; every session but the caller's ends (their auth hash changes).

    The view keeps its own session with `update_session_auth_hash`.
    """
    _set_password(user, new_password)
    record_event(event_type=EventType.ACCOUNT_PASSWORD_CHANGE, actor=user, request=request)
    _send_password_changed(user)


def _reset_recipient(identifier: str) -> tuple[User, str] | None:
    """The active account and verified address a reset for `identifier` goes to, if any."""
    identifier = identifier.strip()
    if "@" in identifier:
        email = (
            Email.objects.select_related("user")
            .filter(email__iexact=identifier, is_verified=True, user__is_active=True)
            .first()
        )
        return (email.user, email.email) if email else None
    user = User.objects.filter(username__iexact=identifier, is_active=True).first()
    if user is None:
        return None
    primary = verified_primary_email_for_user(user)
    return (user, primary.email) if primary else None


def _queue_password_reset(
    *, user: User, address: str, template: str = "accounts/password_reset"
) -> None:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    queue_email(
        recipients=[address],
        template=template,
        context={
            "user": user,
            "reset_url": absolute_url("accounts:password_reset_confirm", uidb64=uid, token=token),
            "timeout_minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
        },
    )


@transaction.atomic
def request_password_reset(*, identifier: str, request: HttpRequest) -> None:
    """Email a reset link when `identifier` (username or address) names an active account.

    Unknown identifiers, accounts without a verified address and over-limit requests send
    nothing; the caller answers the same in every case, so nothing is revealed.
    """
    recipient = _reset_recipient(identifier)
    if recipient is None:
        logger.info("password reset for no matching account: ip=%s", client_ip(request))
        return
    user, address = recipient
    if ratelimits.consume(
        request, limits=ratelimits.PASSWORD_RESET_PER_USER, key=f"user-id:{user.pk}"
    ):
        logger.warning("ratelimited password.reset: user_id=%s", user.pk)
        return
    record_event(
        event_type=EventType.ACCOUNT_PASSWORD_RESET_REQUEST,
        actor=user,
        request=request,
        data={"email": address},
    )
    _queue_password_reset(user=user, address=address)


@transaction.atomic
def send_password_reset(*, user: User, actor: User, request: HttpRequest | None = None) -> bool:
    """An administrator sends `user` a reset link; False when they have no verified address."""
    recipient = _reset_recipient(user.username)
    if recipient is None:
        return False
    record_event(
        event_type=EventType.ACCOUNT_PASSWORD_RESET_REQUEST,
        actor=actor,
        user=user,
        request=request,
        data={"email": recipient[1], "by_admin": True},
    )
    _queue_password_reset(user=user, address=recipient[1])
    return True


@transaction.atomic
def reset_password(*, user: User, new_password: str, request: HttpRequest | None = None) -> None:
    """Set the password chosen through a reset link; the link and every session die with it.

    Two-factor authentication is untouched: the next login still asks for the second factor.
    """
    _set_password(user, new_password)
    record_event(event_type=EventType.ACCOUNT_PASSWORD_RESET, actor=user, request=request)
    _send_password_changed(user)


@transaction.atomic
def disable_compromised_password(*, user: User, request: HttpRequest | None = None) -> None:
    """The right password turned out to be breached: void it and email a reset link.

    The login is refused and recorded (`account:login:failure`, reason compromised_password);
    the user must choose a new password through the emailed link.
    """
    user.set_unusable_password()
    user.save(update_fields=["password"])
    record_event(
        event_type=EventType.ACCOUNT_LOGIN_FAILURE,
        actor=user,
        request=request,
        data={"reason": "compromised_password"},
    )
    recipient = _reset_recipient(user.username)
    if recipient is not None:
        _queue_password_reset(
            user=user, address=recipient[1], template="accounts/password_compromised"
        )


# Sessions and account state -----------------------------------------------------------------


@transaction.atomic
def log_out(*, request: HttpRequest) -> None:
    """End the session server-side (flush deletes it from the store) and record it."""
    user = request.user
    if user.is_authenticated:
        record_event(event_type=EventType.ACCOUNT_LOGOUT, actor=user, request=request)
    logout(request)


@transaction.atomic
def record_reauth_failure(*, user: User, request: HttpRequest) -> None:
    record_event(
        event_type=EventType.ACCOUNT_REAUTHENTICATE_FAILURE,
        actor=user,
        request=request,
        data={"reason": "bad_password"},
    )


@transaction.atomic
def set_user_active(
    *, user: User, is_active: bool, actor: User, request: HttpRequest | None = None
) -> None:
    """Disable or re-enable an account (both recorded). A disabled user's sessions stop."""
    if user.is_active == is_active:
        return
    user.is_active = is_active
    user.save(update_fields=["is_active"])
    if is_active:
        record_event(event_type=EventType.ACCOUNT_ENABLED, actor=actor, user=user, request=request)
    else:
        record_event(event_type=EventType.ACCOUNT_DISABLED, actor=actor, user=user, request=request)
        # is_active already stops the sessions; ending them too means re-enabling the account
        # does not bring a session of whoever caused the disabling back to life.
        end_other_sessions(user=user, request=request)


@transaction.atomic
def change_user_by_admin(
    *,
    user: User,
    actor: User,
    name: str,
    is_staff: bool,
    is_superuser: bool,
    groups: Iterable[Group],
    request: HttpRequest | None = None,
) -> None:
    """Apply an administrator's edit of a user's name, staff and superuser status and groups.

    One `account:admin:change` event lists what changed (old and new), in the same transaction;
    nothing is recorded when nothing changed.
    """
    groups = list(groups)
    new_groups = sorted({group.name for group in groups})
    old_groups = sorted(user.groups.values_list("name", flat=True))
    changes: dict[str, dict[str, object]] = {}
    for field, value in (("name", name), ("is_staff", is_staff), ("is_superuser", is_superuser)):
        if getattr(user, field) != value:
            changes[field] = {"old": getattr(user, field), "new": value}
            setattr(user, field, value)
    if new_groups != old_groups:
        changes["groups"] = {"old": old_groups, "new": new_groups}
        user.groups.set(groups)
    if not changes:
        return
    fields = [field for field in ("name", "is_staff", "is_superuser") if field in changes]
    if fields:
        user.save(update_fields=fields)
    record_event(
        event_type=EventType.ACCOUNT_ADMIN_CHANGE,
        actor=actor,
        user=user,
        request=request,
        data={"changes": changes},
    )

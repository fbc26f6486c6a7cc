"""What the second-factor methods share: counting them, the last-method rule, emails.

`accounts` answers "does this user have a second factor?"; whether they *must* have one is the
one policy in `projects.policy`, asked through `accounts.policy_hook` only to refuse removing
the last method.
"""

from django.db import transaction
from django.http import HttpRequest

from accounts.models import RecoveryCode, TOTPDevice, User, WebAuthnCredential, WebAuthnUserHandle
from accounts.notifications import email_user
from accounts.policy_hook import two_factor_required
from accounts.sessions import end_other_sessions
from auditlog.events import EventType
from auditlog.services import record_event
from index_site.errors import UserFacingError
from index_site.links import absolute_url


class TwoFactorError(UserFacingError):
    """A 2FA change was refused; the message is a sentence for the user."""


LAST_METHOD_MESSAGE = (
    "This is your last two-factor method and two-factor authentication is required on this "
    "site. Add another authenticator app or security key first, then remove this one."
)

METHOD_TOTP = "totp"
METHOD_WEBAUTHN = "webauthn"
METHOD_RECOVERY_CODE = "recovery_code"
METHOD_LABELS = {
    METHOD_TOTP: "authenticator app",
    METHOD_WEBAUTHN: "security key or passkey",
    METHOD_RECOVERY_CODE: "recovery code",
}


def count_methods(user: User) -> int:
    """How many second factors (confirmed app + WebAuthn credentials) `user` has."""
    has_app = TOTPDevice.objects.filter(user=user, is_confirmed=True).exists()
    return int(has_app) + WebAuthnCredential.objects.filter(user=user).count()


def ensure_method_removable(user: User) -> None:
    """Raise TwoFactorError when removing one method would leave a required user without 2FA."""
    if count_methods(user) <= 1 and two_factor_required(user):
        raise TwoFactorError(LAST_METHOD_MESSAGE)


def after_method_change(
    *, user: User, request: HttpRequest | None, template: str, method: str, label: str = ""
) -> None:
    """A second factor was added or removed (its event recorded): end the user's other sessions
    and email them about it (queued in the caller's transaction)."""
    end_other_sessions(user=user, request=request)
    email_user(
        user=user,
        template=template,
        context={
            "method": METHOD_LABELS[method],
            "label": label,
            "manage_url": absolute_url("accounts:two_factor"),
            "help_url": absolute_url("accounts:two_factor_help"),
        },
    )


@transaction.atomic
def reset_two_factor(*, user: User, actor: User, reason: str, request: HttpRequest | None) -> None:
    """Remove every second factor and recovery code of `user` (an admin action, with a reason).

    Used when a user lost every device and proved who they are some other way. The user is
    emailed and must set up two-factor authentication again before acting.
    """
    reason = reason.strip()
    if not reason:
        raise TwoFactorError("Give a reason for resetting two-factor authentication.")
    removed = {
        "totp": TOTPDevice.objects.filter(user=user).delete()[0],
        "webauthn": WebAuthnCredential.objects.filter(user=user).delete()[0],
        "recovery_codes": RecoveryCode.objects.filter(user=user).delete()[0],
    }
    # A fresh handle, so credentials that survive on old authenticators name no account.
    WebAuthnUserHandle.objects.filter(user=user).delete()
    record_event(
        event_type=EventType.ACCOUNT_TWO_FACTOR_RESET,
        actor=actor,
        user=user,
        request=request,
        data={"reason": reason, "removed": removed},
    )
    # Every session of the user ends: one may belong to whoever holds the lost device.
    end_other_sessions(user=user, request=request)
    email_user(
        user=user,
        template="two_factor/reset",
        context={
            "reason": reason,
            "manage_url": absolute_url("accounts:two_factor"),
            "help_url": absolute_url("accounts:two_factor_help"),
        },
    )

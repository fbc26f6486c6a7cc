from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from accounts.models import Email, User


def has_two_factor(user: User) -> bool:
    """Whether `user` has a confirmed second factor (an authenticator app or a WebAuthn key)."""
    return (
        user.webauthn_credentials.exists()
        or get_user_model().objects.filter(pk=user.pk, totp_device__is_confirmed=True).exists()
    )


def primary_email_for_user(user: User) -> Email | None:
    return user.emails.filter(is_primary=True).first()


def verified_primary_email_for_user(user: User) -> Email | None:
    return user.emails.filter(is_primary=True, is_verified=True).first()


def emails_for_user(user: User) -> QuerySet[Email]:
    return user.emails.order_by("-is_primary", "email")


def get_user_by_username(username: str) -> User | None:
    return User.objects.filter(username__iexact=username, is_active=True).first()

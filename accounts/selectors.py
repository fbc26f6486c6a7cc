from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet

from accounts.models import Email, TOTPDevice, User, WebAuthnCredential


@dataclass(frozen=True)
class AccountStanding:
    has_verified_email: bool  # a verified primary email
    has_two_factor: bool  # a confirmed second factor: an authenticator app or a WebAuthn key


# Written out because every upload reads it: one round trip, and none of the query building
# that costs the ORM forms more than the database's answer. Named after the models' tables.
_STANDING_SQL = """
SELECT
    EXISTS (SELECT 1 FROM {email} email
        WHERE email.user_id = %s AND email.is_primary AND email.is_verified),
    EXISTS (SELECT 1 FROM {webauthn} credential WHERE credential.user_id = %s)
        OR EXISTS (SELECT 1 FROM {totp} totp WHERE totp.user_id = %s AND totp.is_confirmed)
"""


def account_standing(user: User) -> AccountStanding:
    """What an upload or a protected page asks of `user`, in one query."""
    sql = _STANDING_SQL.format(
        email=Email._meta.db_table,
        webauthn=WebAuthnCredential._meta.db_table,
        totp=TOTPDevice._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk] * 3)
        has_verified_email, has_two_factor = cursor.fetchone()
    return AccountStanding(
        has_verified_email=bool(has_verified_email), has_two_factor=bool(has_two_factor)
    )


def has_two_factor(user: User) -> bool:
    """Whether `user` has a confirmed second factor (an authenticator app or a WebAuthn key)."""
    return account_standing(user).has_two_factor


def primary_email_for_user(user: User) -> Email | None:
    return user.emails.filter(is_primary=True).first()


def verified_primary_email_for_user(user: User) -> Email | None:
    return user.emails.filter(is_primary=True, is_verified=True).first()


def emails_for_user(user: User) -> QuerySet[Email]:
    return user.emails.order_by("-is_primary", "email")


def get_user_by_username(username: str) -> User | None:
    return User.objects.filter(username__iexact=username, is_active=True).first()

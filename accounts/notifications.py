"""Emailing a user: resolves their address and queues the email through the outbox."""

from typing import Any

from accounts.models import User
from accounts.selectors import primary_email_for_user, verified_primary_email_for_user
from index_site.email import queue_email


def email_user(
    *, user: User, template: str, context: dict[str, Any], allow_unverified: bool = False
) -> bool:
    """Queue `template` to the user's primary address; return False when they have none.

    Unverified addresses are skipped unless `allow_unverified` (verification emails need it).
    """
    select = primary_email_for_user if allow_unverified else verified_primary_email_for_user
    address = select(user)
    if address is None:
        return False
    queue_email(recipients=[address.email], template=template, context={"user": user, **context})
    return True

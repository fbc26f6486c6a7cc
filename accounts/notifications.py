"""Emailing a user: resolves their address and queues the email through the outbox."""

from typing import Any

from accounts.models import User
from index_site.email import queue_email


def email_user(
    *, user: User, template: str, context: dict[str, Any], allow_unverified: bool = False
) -> bool:
    """Queue `template` to the user's primary address; return False when they have none.

    Unverified addresses are skipped unless `allow_unverified` (verification emails need it).
    """
    filters = {"is_primary": True}
    if not allow_unverified:
        filters["is_verified"] = True
    address = user.emails.filter(**filters).values_list("email", flat=True).first()
    if address is None:
        return False
    queue_email(recipients=[address], template=template, context={"user": user, **context})
    return True

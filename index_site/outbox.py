"""Delivering outbox rows: claim, send, mark sent. Each row is sent at most once.

Bodies can carry secrets (password-reset and verification links), so a sent row keeps only a
note in their place, and sent rows are deleted after settings.OUTBOX_RETENTION_DAYS.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.utils import timezone

from index_site.models import OutboxEmail

logger = logging.getLogger(__name__)

CLAIM_DURATION = timedelta(minutes=5)
MAX_ATTEMPTS = 10
SENT_BODY_NOTE = "(Sent; the body is not kept after delivery.)"


def claim_email(pk: int) -> OutboxEmail | None:
    """Claim an unsent row for delivery; return None when it is sent or another run holds it.

    The claim is a single conditional UPDATE, so two workers racing for one row cannot both win.
    """
    now = timezone.now()
    claimed = OutboxEmail.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        pk=pk,
        sent_at__isnull=True,
        attempts__lt=MAX_ATTEMPTS,
    ).update(claimed_until=now + CLAIM_DURATION)
    if not claimed:
        return None
    return OutboxEmail.objects.get(pk=pk)


def deliver_email(pk: int) -> bool:
    """Send one outbox row if it is still unsent; return True when this call sent it."""
    email = claim_email(pk)
    if email is None:
        return False
    message = EmailMultiAlternatives(
        subject=email.subject, body=email.body_text, to=[email.recipient]
    )
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    try:
        message.send()
    except Exception as exc:
        OutboxEmail.objects.filter(pk=pk).update(
            claimed_until=None, attempts=email.attempts + 1, last_error=type(exc).__name__
        )
        logger.warning(
            "Email %s (%s) could not be sent: %s", pk, email.template, type(exc).__name__
        )
        raise
    OutboxEmail.objects.filter(pk=pk).update(
        sent_at=timezone.now(),
        attempts=email.attempts + 1,
        body_text=SENT_BODY_NOTE,
        body_html="",
    )
    return True


def pending_email_ids() -> list[int]:
    """Rows not yet sent whose claim, if any, has lapsed: what the periodic sweep retries."""
    now = timezone.now()
    return list(
        OutboxEmail.objects.filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
            sent_at__isnull=True,
            attempts__lt=MAX_ATTEMPTS,
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:500]
    )


def delete_old_sent_emails() -> int:
    """Delete sent rows older than OUTBOX_RETENTION_DAYS; return how many were deleted."""
    cutoff = timezone.now() - timedelta(days=settings.OUTBOX_RETENTION_DAYS)
    deleted, _ = OutboxEmail.objects.filter(sent_at__lt=cutoff).delete()
    return deleted

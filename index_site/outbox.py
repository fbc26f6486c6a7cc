"""Delivering outbox rows: claim, send, mark sent.

What holds, exactly:

- **Never two senders at once.** A row is claimed by one conditional UPDATE before it is sent,
  so two workers (or a task and the sweep) racing for it cannot both send it. A claim lasts
  CLAIM_DURATION, and the delivery task's hard time limit (DELIVERY_TIME_LIMIT) is shorter:
  a claim only lapses once the worker that held it is gone.
- **At least once**, for up to MAX_ATTEMPTS tries: a committed row stays until it is marked
  sent, and the periodic sweep retries it whenever the SMTP server refused it, timed out
  (EMAIL_TIMEOUT, or the task's soft time limit) or the broker lost the task. After
  MAX_ATTEMPTS failures the row is left unsent, with its `last_error`, for an administrator.
- **At most once, except in one window:** a worker killed (or a database that fails) after the
  SMTP server accepted the message and before the row was marked sent leaves the row claimed
  but unsent; once the claim lapses the sweep sends it again. Every send of a row carries the
  same Message-ID (`message_id_for`), so mail servers and clients that recognise a repeated
  Message-ID (most do) show it once.

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
# The delivery task's soft and hard time limits: the hard one ends a delivery well inside its
# claim, the soft one first lets it record the failure and release the claim.
DELIVERY_SOFT_TIME_LIMIT = timedelta(minutes=3)
DELIVERY_TIME_LIMIT = timedelta(minutes=4)
MAX_ATTEMPTS = 10
SENT_BODY_NOTE = "(Sent; the body is not kept after delivery.)"


def message_id_for(email: OutboxEmail) -> str:
    """The Message-ID of every send of this row: the same for each retry, unique per row.

    The creation time, to the microsecond, keeps two databases' rows with one id apart.
    """
    created = email.created_at.strftime("%Y%m%d%H%M%S%f")
    return f"<outbox.{email.pk}.{created}@{settings.SITE_HOST}>"


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
        subject=email.subject,
        body=email.body_text,
        to=[email.recipient],
        headers={"Message-ID": message_id_for(email)},
    )
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    try:
        message.send()
    except Exception as exc:
        # SoftTimeLimitExceeded included: the claim is released at once for the next try.
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

"""Celery entry points for the audit log's seals and retention (thin: the work is in chain)."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import mail_admins
from django.utils import timezone

from auditlog import chain

logger = logging.getLogger(__name__)
# Seals made within this long are re-verified by every run of the sealing job.
RECENT = timedelta(days=1)


@shared_task
def seal_audit_log() -> int:
    """Periodic: seal new events, then verify the last day's seals; email the admins on a break."""
    sealed = chain.seal()
    verification = chain.verify(since=timezone.now() - RECENT)
    if not verification.ok:
        report_break(verification)
    return len(sealed)


def report_break(verification: chain.Verification) -> None:
    first = verification.findings[0]
    logger.error(
        "audit log verification failed",
        extra={"first_event_id": first.event_id, "problem": first.problem},
    )
    lines = "\n".join(f"- {finding}" for finding in verification.findings[:50])
    mail_admins(
        "The audit log failed verification",
        "The audit log's hash chain no longer matches its signed seals: rows were changed, "
        f"deleted or inserted outside the application.\n\nFirst: {first}\n\n{lines}\n\n"
        "Run `manage.py verify_audit_log` for the full report, and keep a copy of the "
        "database as it is for the investigation.",
    )


@shared_task
def prune_audit_log() -> int:
    """Periodic: remove sealed events older than AUDIT_RETENTION_DAYS (0 keeps everything)."""
    if not settings.AUDIT_RETENTION_DAYS:
        return 0
    pruning = chain.prune(older_than=timedelta(days=settings.AUDIT_RETENTION_DAYS))
    return pruning.event_count if pruning else 0

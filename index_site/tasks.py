from celery import shared_task

from index_site.outbox import deliver_email, pending_email_ids


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_email(outbox_id: int) -> None:
    """Deliver one outbox email (a no-op if it was already sent)."""
    deliver_email(outbox_id)


@shared_task
def send_pending_emails() -> None:
    """Retry every outbox email that is still unsent."""
    for pk in pending_email_ids():
        send_email.delay(pk)

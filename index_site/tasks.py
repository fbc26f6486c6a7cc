from celery import shared_task

from index_site.outbox import (
    DELIVERY_SOFT_TIME_LIMIT,
    DELIVERY_TIME_LIMIT,
    delete_old_sent_emails,
    deliver_email,
    pending_email_ids,
)


# The limits keep a delivery inside its outbox claim (index_site.outbox).
@shared_task(
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=DELIVERY_SOFT_TIME_LIMIT.total_seconds(),
    time_limit=DELIVERY_TIME_LIMIT.total_seconds(),
)
def send_email(outbox_id: int) -> None:
    """Deliver one outbox email (a no-op if it was already sent)."""
    deliver_email(outbox_id)


@shared_task
def send_pending_emails() -> None:
    """Retry every outbox email that is still unsent."""
    for pk in pending_email_ids():
        send_email.delay(pk)


@shared_task
def delete_old_emails() -> None:
    """Delete sent outbox rows past their retention period."""
    delete_old_sent_emails()

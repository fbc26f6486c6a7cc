"""Periodic publishing jobs: trusted publishing and upload storage (scheduled in
settings.CELERY_BEAT_SCHEDULE)."""

from celery import shared_task
from django.utils import timezone

from projects.services.files import delete_orphaned_files
from publishing.models import UsedJwtId
from publishing.pending import expire_pending_publishers as expire_pending


@shared_task
def expire_pending_publishers() -> int:
    """Delete pending publishers past their lifetime, emailing each registrant."""
    return expire_pending()


@shared_task
def delete_expired_jwt_ids() -> int:
    """Forget used JWT ids whose token can no longer verify (past exp + leeway + margin)."""
    deleted, _ = UsedJwtId.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted


# Lists every stored object (slow on object storage): longer than the default task limits, and
# shorter than the hour between two runs.
@shared_task(soft_time_limit=30 * 60, time_limit=35 * 60)
def sweep_orphaned_uploads() -> int:
    """Delete stored distribution files no File row references, left by a failed upload.

    Only objects over an hour old are considered, and on PostgreSQL none from the time of a
    transaction still open, so an upload in flight never loses its object (the reasoning is in
    `delete_orphaned_files`); the same sweep as the `sweep_orphaned_uploads` management command.
    """
    return delete_orphaned_files()

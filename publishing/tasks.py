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


@shared_task
def sweep_orphaned_uploads() -> int:
    """Delete stored distribution files no File row references, left by a crash mid-upload.

    Only objects over an hour old are considered, so an upload in progress is never touched;
    the same sweep as the `sweep_orphaned_uploads` management command.
    """
    return delete_orphaned_files()

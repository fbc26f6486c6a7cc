"""Periodic trusted-publishing jobs (scheduled in settings.CELERY_BEAT_SCHEDULE)."""

from celery import shared_task
from django.utils import timezone

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

"""Celery entry points for tokens."""

from celery import shared_task

from tokens import services


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def record_expired_api_tokens() -> int:
    """Periodic: write token expiries to their owners' histories; drop old publisher tokens."""
    return services.record_expired_api_tokens()

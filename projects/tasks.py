"""Celery entry points for projects: thin wrappers around services."""

from celery import shared_task

from projects.services.roles import expire_role_invitations as expire_role_invitations_service


@shared_task
def expire_role_invitations() -> int:
    """Delete role invitations past their expiry (beat: every 5 minutes)."""
    return expire_role_invitations_service()

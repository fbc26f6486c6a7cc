"""Celery entry points for projects: thin wrappers around services."""

from celery import shared_task

from projects.services.critical import (
    compute_critical_projects as compute_critical_projects_service,
)
from projects.services.roles import expire_role_invitations as expire_role_invitations_service


@shared_task
def expire_role_invitations() -> int:
    """Delete role invitations past their expiry (beat: every 5 minutes)."""
    return expire_role_invitations_service()


# Aggregates every project's downloads over months: longer than the default task limits.
@shared_task(soft_time_limit=30 * 60, time_limit=35 * 60)
def compute_critical_projects() -> int:
    """Flag the most downloaded projects as critical (beat: daily); return how many."""
    return len(compute_critical_projects_service())

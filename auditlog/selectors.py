from django.db.models import QuerySet

from auditlog.models import AuditEvent


def events_for_user(user) -> QuerySet[AuditEvent]:
    """A user's own security history, newest first."""
    return AuditEvent.objects.filter(user=user).order_by("-occurred_at", "-pk")


def events_for_project(project) -> QuerySet[AuditEvent]:
    """A project's history, newest first."""
    return AuditEvent.objects.filter(project=project).order_by("-occurred_at", "-pk")

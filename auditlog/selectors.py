from datetime import datetime

from django.db.models import QuerySet

from auditlog.events import EventType
from auditlog.models import AuditEvent


def events_for_user(user) -> QuerySet[AuditEvent]:
    """A user's own security history, newest first."""
    return AuditEvent.objects.filter(user=user).order_by("-occurred_at", "-pk")


def events_for_project(project) -> QuerySet[AuditEvent]:
    """A project's history, newest first."""
    return AuditEvent.objects.filter(project=project).order_by("-occurred_at", "-pk")


def login_addresses_for_username(username: str, *, since: datetime, limit: int) -> list[str]:
    """The client addresses of `username`'s newest successful logins since `since`."""
    addresses = (
        AuditEvent.objects.filter(
            user__username__iexact=username,
            event_type=EventType.ACCOUNT_LOGIN_SUCCESS,
            occurred_at__gte=since,
        )
        .order_by("-occurred_at")
        .values_list("ip_address", flat=True)[:limit]
    )
    return [address for address in addresses if address]

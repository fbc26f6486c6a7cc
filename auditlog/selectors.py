from datetime import datetime

from django.db.models import F, Q, QuerySet

from auditlog.events import NEEDS_ATTENTION, NEEDS_ATTENTION_WHEN_BY_OTHERS, EventType
from auditlog.models import AuditEvent, HistoryVisit


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


def recent_events(user, event_type: EventType, *, since: datetime) -> QuerySet[AuditEvent]:
    """`user`'s events of `event_type` since `since`, newest first."""
    return events_for_user(user).filter(event_type=event_type, occurred_at__gte=since)


def needing_attention(events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
    """Those of `events` that need the account holder's look (see AuditEvent.needs_attention)."""
    by_others = Q(event_type__in=NEEDS_ATTENTION_WHEN_BY_OTHERS) & (
        ~Q(actor_pk=F("user_pk")) | Q(actor_pk__isnull=True)
    )
    return events.filter(Q(event_type__in=NEEDS_ATTENTION) | by_others)


def attention_since_last_visit(user) -> int:
    """How many of `user`'s events need a look and came after their last history visit."""
    visit = HistoryVisit.objects.filter(user=user).first()
    since = visit.last_seen_event_id if visit else 0
    return needing_attention(events_for_user(user).filter(pk__gt=since)).count()

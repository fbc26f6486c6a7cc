"""The one way to record an audit event."""

from typing import Any

from django.db import models
from django.db.models import Max
from django.http import HttpRequest

from auditlog.events import EventType
from auditlog.models import AuditEvent, HistoryVisit
from index_site.client_ip import client_ip
from index_site.model_statements import insert_row

REDACTED = "[redacted]"
SECRET_KEY_PARTS = ("password", "secret", "token", "code", "otp", "key", "jwt", "macaroon")
# Keys that contain a secret-looking word but name no secret.
NON_SECRET_KEYS = frozenset({"token_name", "token_id", "token_type", "token_scope", "code_count"})
USER_AGENT_MAX = 512


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: REDACTED if _is_secret_key(key) else _redact(item) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact(item) for item in value]
    return value


def _is_secret_key(key: str) -> bool:
    lowered = str(key).lower()
    return lowered not in NON_SECRET_KEYS and any(part in lowered for part in SECRET_KEY_PARTS)


def record_event(
    *,
    event_type: EventType,
    actor: models.Model | None,
    request: HttpRequest | None = None,
    user: models.Model | None = None,
    project: models.Model | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event; call it inside the transaction of the change it records.

    `actor` did it, `user` is whose history shows it (defaults to the actor), `project` whose
    project history shows it. The client's IP and user agent come from `request`, here and
    nowhere else. Keys that look like secrets are redacted from `data`.
    """
    if user is None:
        user = actor
    ip_address = None
    user_agent = ""
    if request is not None:
        ip_address = client_ip(request) or None
        user_agent = request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX]
    # Every change records one or more: the statement is built once (index_site.model_statements).
    return insert_row(
        AuditEvent(
            event_type=EventType(event_type),
            # By primary key: this app knows users and projects only as models (it imports neither).
            actor_id=getattr(actor, "pk", None),
            actor_pk=getattr(actor, "pk", None),
            actor_username=getattr(actor, "username", ""),
            user_id=getattr(user, "pk", None),
            user_pk=getattr(user, "pk", None),
            username=getattr(user, "username", ""),
            project_id=getattr(project, "pk", None),
            project_pk=getattr(project, "pk", None),
            project_name=getattr(project, "name", ""),
            ip_address=ip_address,
            user_agent=user_agent,
            data=_redact(data or {}),
        )
    )


def record_history_visit(user_id: int) -> None:
    """Remember the newest event a user has seen in their history (bookkeeping, not audited)."""
    newest = AuditEvent.objects.filter(user_id=user_id).aggregate(newest=Max("pk"))["newest"]
    HistoryVisit.objects.update_or_create(
        user_id=user_id, defaults={"last_seen_event_id": newest or 0}
    )

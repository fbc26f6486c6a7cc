"""Writes on API tokens: creating, revoking, leak handling, expiry and use bookkeeping."""

import hashlib
import ipaddress
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django_ratelimit.core import get_usage

from accounts.models import User
from accounts.notifications import email_user
from accounts.selectors import verified_primary_email_for_user
from auditlog.events import EventType
from auditlog.services import record_event
from projects.models import Project
from projects.selectors import UPLOAD_ROLES
from tokens import caveats
from tokens.exceptions import TokenCreationError, TokenCreationLimitedError
from tokens.macaroons import mint_token
from tokens.models import ApiToken

logger = logging.getLogger(__name__)

NAME_MAX_LENGTH = 100
MAX_IP_NETWORKS = 32
# `last_used_at` is bookkeeping, not a lock: it is written at most once a minute per token.
LAST_USED_PRECISION = timedelta(minutes=1)
# A refused use is written to the owner's history at most once per token, reason and hour.
REFUSAL_THROTTLE_SECONDS = 60 * 60
PUBLISHER_TOKEN_RETENTION = timedelta(days=1)
DUPLICATE_NAME_MESSAGE = "You already have a token with this name. Choose another name."
# Tokens a user may be given per hour, however they are created (page, command).
CREATE_RATE = "20/h"
VERIFY_EMAIL_MESSAGE = (
    "Verify your email address to create an API token: a verified primary email address is "
    "needed. Open the link we sent you, or resend it from your account settings."
)
TOO_MANY_TOKENS_MESSAGE = "You created many tokens in the last hour. Wait an hour and try again."


def _scope_description(project_names: list[str]) -> str:
    return ", ".join(project_names) if project_names else "all projects"


def _normalize_networks(ip_networks: Iterable[str]) -> list[str]:
    networks = []
    for value in ip_networks:
        try:
            networks.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError as exc:
            raise TokenCreationError(
                f"'{value}' is not an IP address or CIDR range, such as 192.0.2.0/24 or "
                "2001:db8::/32. Correct it or remove it.",
                field="ip_networks",
            ) from exc
    if len(networks) > MAX_IP_NETWORKS:
        raise TokenCreationError(
            f"A token accepts at most {MAX_IP_NETWORKS} IP ranges. Merge some ranges.",
            field="ip_networks",
        )
    return list(dict.fromkeys(networks))


def _validated_name(*, user: User, name: str) -> str:
    name = name.strip()
    if not name:
        raise TokenCreationError(
            "Give the token a name, such as 'CI for my-project'.", field="name"
        )
    if len(name) > NAME_MAX_LENGTH:
        raise TokenCreationError(
            f"The token name is too long: use at most {NAME_MAX_LENGTH} characters.", field="name"
        )
    if ApiToken.objects.filter(user=user, name=name).exists():
        raise TokenCreationError(DUPLICATE_NAME_MESSAGE, field="name")
    return name


def _check_may_create(*, user: User) -> None:
    """Refuse a user without a verified primary email, or past the hourly creation limit.

    Here rather than in a view, so no way of creating a token skips them.
    """
    if verified_primary_email_for_user(user) is None:
        raise TokenCreationError(VERIFY_EMAIL_MESSAGE)
    usage = get_usage(
        None,
        group="tokens.create",
        # The same bucket as django-ratelimit's "user" key: the user's primary key.
        key=lambda _group, _request: str(user.pk),
        rate=CREATE_RATE,
        increment=True,
    )
    if usage is not None and usage["should_limit"]:
        raise TokenCreationLimitedError(TOO_MANY_TOKENS_MESSAGE)


def _scoped_projects(*, user: User, project_ids: list[int]) -> list[Project]:
    if not project_ids:
        raise TokenCreationError(
            "Choose at least one project, or scope the token to all your projects.",
            field="projects",
        )
    wanted = set(project_ids)
    projects = list(
        Project.objects.filter(
            pk__in=wanted, roles__user=user, roles__role__in=UPLOAD_ROLES
        ).order_by("normalized_name")
    )
    if {project.pk for project in projects} != wanted:
        raise TokenCreationError(
            "A token can only be scoped to projects you own or maintain. Choose among them.",
            field="projects",
        )
    return projects


def _project_caveats(projects: list[Project]) -> list[list[Any]]:
    return [
        caveats.ProjectName(tuple(p.normalized_name for p in projects)).to_list(),
        caveats.ProjectID(tuple(str(p.pk) for p in projects)).to_list(),
    ]


@transaction.atomic
def create_api_token(
    *,
    user: User,
    name: str,
    project_ids: list[int] | None = None,
    expires_at: datetime | None = None,
    not_before: datetime | None = None,
    ip_networks: list[str] | None = None,
    actor: User | None,
    request: HttpRequest | None = None,
) -> tuple[ApiToken, str]:
    """Create a user's API token; return the row and the token string, shown only once.

    `project_ids=None` scopes the token to all the user's projects (and lets it create new
    ones); a list scopes it to those projects, each of which the user must own or maintain.
    `actor` is None when the system (an administrator's command) issues the token. Raises
    TokenCreationError when the user has no verified primary email or a value is refused, and
    TokenCreationLimitedError past CREATE_RATE tokens an hour.
    """
    _check_may_create(user=user)
    name = _validated_name(user=user, name=name)
    now = timezone.now()
    projects = (
        _scoped_projects(user=user, project_ids=project_ids) if project_ids is not None else []
    )
    issued: list[list[Any]] = [caveats.RequestUser(str(user.pk)).to_list()]
    issued.extend(_project_caveats(projects) if projects else [])
    if expires_at is not None:
        if expires_at <= now:
            raise TokenCreationError("Choose an expiry date in the future.", field="expires_at")
        start = not_before or now
        if start >= expires_at:
            raise TokenCreationError(
                "The token must become valid before it expires.", field="expires_at"
            )
        issued.append(
            caveats.Expiration(int(expires_at.timestamp()), int(start.timestamp())).to_list()
        )
    elif not_before is not None:
        raise TokenCreationError("A start date needs an expiry date as well.", field="expires_at")
    networks = _normalize_networks(ip_networks or [])
    if networks:
        issued.append(caveats.IPNetworks(tuple(networks)).to_list())

    try:
        with transaction.atomic():
            token = ApiToken.objects.create(
                user=user,
                name=name,
                key_id=settings.TOKEN_SECRET_ID,
                caveats=issued,
                expires_at=expires_at,
                not_before=not_before,
                ip_networks=networks,
                created_by=actor,
            )
    except IntegrityError as exc:
        # Two requests creating the same name at once: the unique constraint decides.
        raise TokenCreationError(DUPLICATE_NAME_MESSAGE, field="name") from exc
    if projects:
        token.projects.set(projects)
    project_names = [p.name for p in projects]
    record_event(
        event_type=EventType.ACCOUNT_API_TOKEN_ADDED,
        actor=actor,
        request=request,
        user=user,
        data={
            "token_name": name,
            "token_id": str(token.pk),
            "token_scope": _scope_description(project_names),
            "caveats": issued,
            "expires_at": expires_at.isoformat() if expires_at else None,
            "ip_networks": networks,
        },
    )
    for project in projects:
        record_event(
            event_type=EventType.PROJECT_API_TOKEN_ADDED,
            actor=actor,
            request=request,
            user=user,
            project=project,
            data={
                "token_name": name,
                "created_by": actor.username if actor else "an administrator",
                "owner": user.username,
            },
        )
    return token, mint_token(token=token)


@transaction.atomic
def create_publisher_token(
    *,
    publisher_id: int,
    project_ids: list[int],
    lifetime: timedelta = timedelta(minutes=15),
    ci_run: dict[str, str] | None = None,
    request: HttpRequest | None = None,
) -> tuple[ApiToken, str]:
    """Mint a short-lived trusted-publishing token for `publisher_id`'s projects.

    The caller records the project events. The token has no user; it uploads as the publisher,
    and `ci_run` (the CI run that asked for it) goes into the history of its uploads.
    """
    now = timezone.now()
    expires_at = now + lifetime
    ids = sorted({int(pk) for pk in project_ids})
    issued = [
        caveats.OIDCPublisher(str(publisher_id)).to_list(),
        caveats.ProjectID(tuple(str(pk) for pk in ids)).to_list(),
        caveats.Expiration(int(expires_at.timestamp()), int(now.timestamp())).to_list(),
    ]
    token = ApiToken.objects.create(
        publisher_id=publisher_id,
        name=f"Trusted publisher {publisher_id}, {now:%Y-%m-%d %H:%M:%S}",
        key_id=settings.TOKEN_SECRET_ID,
        caveats=issued,
        expires_at=expires_at,
        not_before=now,
        ci_run=ci_run or {},
    )
    token.projects.set(ids)
    return token, mint_token(token=token)


def _record_removal(
    *,
    token: ApiToken,
    event_type: EventType,
    actor: User | None,
    request: HttpRequest | None,
    data: dict[str, Any],
) -> None:
    base = {"token_name": token.name, "token_id": str(token.pk)}
    if token.user is None:
        # A trusted-publisher token: its minting and burning are recorded by trusted publishing
        # itself (uv burns one after every publish); only a leak is worth each project's history.
        if event_type != EventType.ACCOUNT_API_TOKEN_REMOVED_LEAK:
            return
    else:
        record_event(
            event_type=event_type,
            actor=actor,
            request=request,
            user=token.user,
            data={**base, **data},
        )
    for project in token.projects.all():
        record_event(
            event_type=EventType.PROJECT_API_TOKEN_REMOVED,
            actor=actor,
            request=request,
            user=token.user,
            project=project,
            data={"token_name": token.name, "owner": getattr(token.user, "username", "")},
        )


@transaction.atomic
def revoke_api_token(
    *,
    token: ApiToken,
    actor: User | None,
    reason: str,
    request: HttpRequest | None = None,
    notify: bool = False,
) -> None:
    """Revoke `token` at once: its row is deleted, so the very next request fails.

    `notify` emails the owner (an admin revoking someone's token says why).
    """
    _record_removal(
        token=token,
        event_type=EventType.ACCOUNT_API_TOKEN_REMOVED,
        actor=actor,
        request=request,
        data={"reason": reason, "removed_by": getattr(actor, "username", "")},
    )
    if notify and token.user is not None:
        email_user(
            user=token.user,
            template="tokens/revoked",
            context={"token_name": token.name, "reason": reason},
        )
    token.delete()


@transaction.atomic
def revoke_leaked_api_token(
    *, token: ApiToken, url: str, origin: str, request: HttpRequest | None = None
) -> None:
    """Revoke a token reported as published, and tell its owner where it was found."""
    _record_removal(
        token=token,
        event_type=EventType.ACCOUNT_API_TOKEN_REMOVED_LEAK,
        actor=None,
        request=request,
        data={"public_url": url, "origin": origin},
    )
    if token.user is not None:
        # Sent even to an unverified address: the owner must learn of the leak.
        email_user(
            user=token.user,
            template="tokens/leaked",
            context={"token_name": token.name, "public_url": url, "origin": origin},
            allow_unverified=True,
        )
    logger.info("Revoked API token %s reported by %s", token.pk, origin)
    token.delete()


def record_token_refusal(*, token: ApiToken, reason: str, request: HttpRequest | None) -> None:
    """Write a refused use of an authentic token to its owner's history, throttled.

    At most one event per token, reason and hour, so a client retrying in a loop cannot flood
    the table. Trusted-publisher tokens have no owner history and are skipped.
    """
    if token.user_id is None:
        return
    digest = hashlib.sha256(reason.encode()).hexdigest()[:16]
    if not cache.add(f"tokens:refused:{token.pk}:{digest}", 1, REFUSAL_THROTTLE_SECONDS):
        return
    with transaction.atomic():
        record_event(
            event_type=EventType.ACCOUNT_API_TOKEN_REFUSED,
            actor=None,
            request=request,
            user=token.user,
            data={"token_name": token.name, "token_id": str(token.pk), "reason": reason},
        )


def mark_token_used(*, token: ApiToken, ip_address: str) -> None:
    """Record when and from where a token was last used, without waiting on a row lock.

    Written only when the stored time is over a minute old. On PostgreSQL the row is picked
    with FOR UPDATE SKIP LOCKED, so a concurrent upload holding it is skipped, never waited on.
    """
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_PRECISION:
        return
    try:
        ip = str(ipaddress.ip_address(ip_address))
    except ValueError:
        ip = None
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_PRECISION)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {ApiToken._meta.db_table} SET last_used_at = %s, last_used_ip = %s "  # noqa: S608 - the table name is the model's, not input
                f"WHERE id IN (SELECT id FROM {ApiToken._meta.db_table} WHERE id = %s AND "
                "(last_used_at IS NULL OR last_used_at < %s) FOR UPDATE SKIP LOCKED)",
                [now, ip, token.pk, now - LAST_USED_PRECISION],
            )
    else:
        ApiToken.objects.filter(stale, pk=token.pk).update(last_used_at=now, last_used_ip=ip)
    token.last_used_at = now
    token.last_used_ip = ip


def record_expired_api_tokens() -> int:
    """Write each expired user token's expiry to its owner's history once; drop old publisher
    tokens. Return how many expiries were recorded. Idempotent.
    """
    now = timezone.now()
    recorded = 0
    expired = (
        ApiToken.objects.filter(
            user__isnull=False, expires_at__lte=now, expiry_recorded_at__isnull=True
        )
        .select_related("user")
        .order_by("expires_at")
    )
    for token_id in expired.values_list("pk", flat=True)[:1000]:
        with transaction.atomic():
            token = (
                ApiToken.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("user")
                .filter(pk=token_id, expiry_recorded_at__isnull=True)
                .first()
            )
            if token is None:
                continue
            token.expiry_recorded_at = now
            token.save(update_fields=["expiry_recorded_at"])
            record_event(
                event_type=EventType.ACCOUNT_API_TOKEN_EXPIRED,
                actor=None,
                user=token.user,
                data={"token_name": token.name, "token_id": str(token.pk)},
            )
            recorded += 1
    ApiToken.objects.filter(
        user__isnull=True, created_at__lt=now - PUBLISHER_TOKEN_RETENTION
    ).delete()
    return recorded

"""Pending publishers: a trusted publisher registered for a project that does not exist yet.

The first upload by a matching CI token creates the project, owned by the user who registered
the pending publisher, and turns the pending publisher into a real one. The project-name policy
is checked at registration and again at creation (GHSA-c943-3cj2-g448).
"""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.notifications import email_user
from auditlog.events import EventType
from auditlog.services import record_event
from projects.exceptions import ProjectNameError
from projects.models import Project
from projects.names import normalize_project_name, validate_project_name
from projects.selectors import get_project_by_name, is_owner
from projects.services.projects import create_project
from publishing.models import PendingPublisher, TrustedPublisher
from publishing.publisher_errors import PublisherError
from publishing.services import get_or_create_publisher


def _publishing_url(project: Project) -> str:
    return settings.SITE_URL + reverse("publishing:project", kwargs={"name": project.name})


def _account_publishing_url() -> str:
    return settings.SITE_URL + reverse("publishing:account")


def _delete_orphan(publisher: TrustedPublisher) -> None:
    if not publisher.projects.exists() and not publisher.pending_publishers.exists():
        publisher.delete()


@transaction.atomic
def register_pending_publisher(
    *,
    user: User,
    project_name: str,
    config: dict[str, Any],
    request: HttpRequest | None = None,
) -> PendingPublisher:
    """Register a publisher that may create `project_name` on its first upload.

    Raise PublisherError (with a sentence to show) when the user has no verified email, holds
    the maximum of pending publishers, the name is refused or taken, or this exact pending
    publisher exists.
    """
    # Lock the user's row so two concurrent registrations cannot both pass the limit.
    User.objects.select_for_update().filter(pk=user.pk).first()
    if not user.emails.filter(is_primary=True, is_verified=True).exists():
        raise PublisherError(
            "Verify your primary email address before registering a pending publisher: we "
            "email you when the project is created."
        )
    limit = settings.PENDING_PUBLISHERS_PER_USER
    if PendingPublisher.objects.filter(added_by=user).count() >= limit:
        raise PublisherError(
            f"You can have at most {limit} pending publishers. Remove one, or wait until one "
            "of them creates its project, then try again."
        )
    existing = get_project_by_name(project_name)
    if existing is not None and is_owner(existing, user):
        raise PublisherError(
            f"The project {existing.name!r} already exists and you own it: add the publisher "
            f"on the project's publishing page instead: {_publishing_url(existing)}"
        )
    try:
        normalized = validate_project_name(project_name)
    except ProjectNameError as exc:
        raise PublisherError(str(exc)) from exc
    publisher = get_or_create_publisher(config=config)
    if PendingPublisher.objects.filter(
        config_key=publisher.config_key, normalized_name=normalized
    ).exists():
        raise PublisherError(
            f"This publisher is already pending for {project_name!r}. Nothing to do: the first "
            "publish from it creates the project."
        )
    pending = PendingPublisher(
        **config,
        project_name=project_name,
        normalized_name=normalized,
        added_by=user,
        publisher=publisher,
    )
    pending.save()
    record_event(
        event_type=EventType.ACCOUNT_OIDC_PENDING_PUBLISHER_ADDED,
        actor=user,
        request=request,
        data={
            "project": project_name,
            "publisher": pending.display_name,
            "provider": pending.provider,
            "url": pending.url,
            "submitted_by": user.username,
        },
    )
    return pending


@transaction.atomic
def remove_pending_publisher(
    *, pending: PendingPublisher, actor: User, request: HttpRequest | None = None
) -> None:
    """Delete `actor`'s pending publisher."""
    if pending.added_by_id != actor.pk:
        raise PublisherError("You can only remove your own pending publishers.")
    record_event(
        event_type=EventType.ACCOUNT_OIDC_PENDING_PUBLISHER_REMOVED,
        actor=actor,
        request=request,
        data={
            "project": pending.project_name,
            "publisher": pending.display_name,
            "removed_by": actor.username,
        },
    )
    publisher = pending.publisher
    pending.delete()
    _delete_orphan(publisher)


@transaction.atomic
def expire_pending_publishers(*, now: datetime | None = None) -> int:
    """Delete pending publishers older than PENDING_PUBLISHER_LIFETIME, telling each registrant."""
    cutoff = (now or timezone.now()) - settings.PENDING_PUBLISHER_LIFETIME
    expired = list(
        PendingPublisher.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(created_at__lt=cutoff)
        .select_related("added_by", "publisher", "issuer")
    )
    for pending in expired:
        record_event(
            event_type=EventType.ACCOUNT_OIDC_PENDING_PUBLISHER_REMOVED,
            actor=None,
            user=pending.added_by,
            data={
                "project": pending.project_name,
                "publisher": pending.display_name,
                "removed_by": "system:ttl-expired",
            },
        )
        email_user(
            user=pending.added_by,
            template="publishing/pending_expired",
            context={
                "pending": pending,
                "days": settings.PENDING_PUBLISHER_LIFETIME.days,
                "account_publishing_url": _account_publishing_url(),
            },
        )
        publisher = pending.publisher
        pending.delete()
        _delete_orphan(publisher)
    return len(expired)


@transaction.atomic
def project_from_pending_publisher(
    *, identity: Any, name: str, request: HttpRequest | None = None
) -> Project | None:
    """Create project `name` for a trusted-publisher upload, when a pending publisher allows it.

    `identity` is the upload's tokens.authentication.UploadIdentity. Return None when it is not
    a trusted publisher or no pending publisher of its publisher is for `name`. Otherwise create
    the project with the pending publisher's registrant as Owner, attach the publisher, delete
    the pending publisher (and other users' pending publishers for the same name), email the
    registrant, all in this transaction. The project is new and now belongs to the token's
    publisher, so the upload may go ahead although the token's ProjectID caveat (minted before
    the project existed) does not list it. Raise ProjectNameError when the name policy refuses
    the name now.
    """
    if not getattr(identity, "is_trusted_publisher", False) or identity.publisher_id is None:
        return None
    normalized = normalize_project_name(name)
    pending = (
        PendingPublisher.objects.select_for_update(of=("self",))
        .filter(publisher_id=identity.publisher_id, normalized_name=normalized)
        .select_related("added_by", "publisher", "issuer")
        .order_by("created_at", "pk")
        .first()
    )
    if pending is None:
        return None
    project = create_project(
        name=pending.project_name,
        creator=pending.added_by,
        request=request,
        via="trusted publishing",
    )
    publisher = pending.publisher
    publisher.projects.add(project)
    record_event(
        event_type=EventType.PROJECT_OIDC_PUBLISHER_ADDED,
        actor=None,
        user=pending.added_by,
        request=request,
        project=project,
        data={
            "publisher": publisher.display_name,
            "publisher_id": publisher.pk,
            "provider": publisher.provider,
            "url": publisher.url,
            "submitted_by": "OpenID created token",
            "reified_from_pending_publisher": True,
        },
    )
    email_user(
        user=pending.added_by,
        template="publishing/pending_reified",
        context={
            "project": project,
            "publisher": publisher,
            "publishing_url": _publishing_url(project),
        },
    )
    for other in PendingPublisher.objects.filter(normalized_name=normalized).select_related(
        "added_by", "publisher", "issuer"
    ):
        if other.pk != pending.pk:
            record_event(
                event_type=EventType.ACCOUNT_OIDC_PENDING_PUBLISHER_REMOVED,
                actor=None,
                user=other.added_by,
                request=request,
                data={
                    "project": other.project_name,
                    "publisher": other.display_name,
                    "removed_by": "system:project-created",
                },
            )
        other_publisher = other.publisher
        other.delete()
        _delete_orphan(other_publisher)
    return project

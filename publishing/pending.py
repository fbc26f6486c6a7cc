"""Pending publishers: a trusted publisher registered for a project that does not exist yet.

The first upload by a matching CI token creates the project, owned by the user who registered
the pending publisher, and turns the pending publisher into a real one. The project-name policy
is checked at registration and again at creation (GHSA-c943-3cj2-g448).
"""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User
from accounts.notifications import email_user
from accounts.selectors import verified_primary_email_for_user
from auditlog.events import EventType
from auditlog.services import record_event
from index_site.links import absolute_url
from projects.exceptions import ProjectNameError
from projects.models import Project
from projects.names import normalize_project_name, validate_project_name
from projects.selectors import get_project_by_name, is_owner
from projects.services.projects import create_project
from publishing.models import PendingPublisher
from publishing.publisher_errors import PublisherError
from publishing.selectors import publishers_of_token
from publishing.services import (
    delete_publisher_if_orphaned,
    get_or_create_publisher,
    publisher_config_data,
    publisher_event_data,
    record_pending_publisher_removed,
)


def _name_taken_message(project_name: str) -> str:
    # Names no one: who registered a pending publisher is nobody else's business.
    return (
        f"A pending publisher is already registered for {project_name!r}, and a project "
        "name can have only one. Choose another name. If the name is yours and you did not "
        "register it, contact the site's administrators before you publish."
    )


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
    the maximum of pending publishers, the name is refused or taken, or the name already has a
    pending publisher (registered by anyone: one per name, so who owns the project it creates
    is never in doubt).
    """
    # Lock the user's row so two concurrent registrations cannot both pass the limit.
    User.objects.select_for_update().filter(pk=user.pk).first()
    if verified_primary_email_for_user(user) is None:
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
        url = absolute_url("publishing:project", name=existing.name)
        raise PublisherError(
            f"The project {existing.name!r} already exists and you own it: add the publisher "
            f"on the project's publishing page instead: {url}"
        )
    try:
        normalized = validate_project_name(project_name)
    except ProjectNameError as exc:
        raise PublisherError(exc.message) from exc
    # One pending publisher per project name, whoever registered it: its registrant becomes
    # the project's owner, so a second registration (even of the same CI identity) would let
    # whoever registered first take the project from under the second.
    already = PendingPublisher.objects.filter(normalized_name=normalized)
    if already.filter(added_by=user).exists():
        raise PublisherError(
            f"You already have a pending publisher for {project_name!r}. Remove it below "
            "first if you want to register a different one."
        )
    if already.exists():
        raise PublisherError(_name_taken_message(project_name))
    publisher = get_or_create_publisher(config=config)
    pending = PendingPublisher(
        **config,
        project_name=project_name,
        normalized_name=normalized,
        added_by=user,
        publisher=publisher,
    )
    try:
        with transaction.atomic():
            pending.save()
    except IntegrityError:
        # Another user registered the name at the same moment (the unique constraint).
        raise PublisherError(_name_taken_message(project_name)) from None
    record_event(
        event_type=EventType.ACCOUNT_OIDC_PENDING_PUBLISHER_ADDED,
        actor=user,
        request=request,
        data={
            "project": project_name,
            "publisher": pending.display_name,
            **publisher_config_data(pending),
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
    _delete_pending(pending, actor=actor, removed_by=actor.username, request=request)


@transaction.atomic
def remove_pending_publisher_as_admin(
    *, pending: PendingPublisher, actor: User, request: HttpRequest | None = None
) -> None:
    """Delete a pending publisher from the admin; the registrant's history shows who did."""
    _delete_pending(pending, actor=actor, removed_by=f"admin:{actor.username}", request=request)


def _delete_pending(
    pending: PendingPublisher, *, actor: User, removed_by: str, request: HttpRequest | None
) -> None:
    record_pending_publisher_removed(
        pending=pending, actor=actor, removed_by=removed_by, request=request
    )
    publisher = pending.publisher
    pending.delete()
    delete_publisher_if_orphaned(publisher)


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
        record_pending_publisher_removed(
            pending=pending, actor=None, removed_by="system:ttl-expired"
        )
        email_user(
            user=pending.added_by,
            template="publishing/pending_expired",
            context={
                "pending": pending,
                "days": settings.PENDING_PUBLISHER_LIFETIME.days,
                "account_publishing_url": absolute_url("publishing:account"),
            },
        )
        publisher = pending.publisher
        pending.delete()
        delete_publisher_if_orphaned(publisher)
    return len(expired)


@transaction.atomic
def project_from_pending_publisher(
    *, identity: Any, name: str, request: HttpRequest | None = None
) -> Project | None:
    """Create project `name` for a trusted-publisher upload, when a pending publisher allows it.

    `identity` is the upload's tokens.authentication.UploadIdentity. Return None when it is not
    a trusted publisher or no pending publisher of its publisher is for `name`. Otherwise create
    the project with the pending publisher's registrant as Owner, attach the publisher, delete
    the pending publisher, email the registrant, all in this transaction. The project is new
    and now belongs to the token's publisher, so the upload may go ahead although the token's
    ProjectID caveat (minted before the project existed) does not list it. Raise
    ProjectNameError when the name policy refuses the name now.
    """
    if not getattr(identity, "is_trusted_publisher", False) or identity.publisher_id is None:
        return None
    normalized = normalize_project_name(name)
    candidates = list(
        PendingPublisher.objects.select_for_update(of=("self",))
        .filter(normalized_name=normalized)
        .select_related("added_by", "publisher", "issuer")[:2]
    )
    # The name's one pending publisher (a constraint), and it must be one the token acts for.
    # Were there ever two, who should own the project is in doubt: create nothing.
    acting_for = publishers_of_token(
        publisher_id=identity.publisher_id, token_id=getattr(identity.token, "pk", None)
    )
    if len(candidates) != 1 or candidates[0].publisher_id not in acting_for:
        return None
    pending = candidates[0]
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
            **publisher_event_data(publisher),
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
            "publishing_url": absolute_url("publishing:project", name=project.name),
        },
    )
    pending.delete()
    return project

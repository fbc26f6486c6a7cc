"""Reads of trusted publishing, with their joins named."""

from uuid import UUID

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet

from accounts.models import User
from projects.models import Project
from publishing.models import (
    AdminFlag,
    OIDCIssuer,
    PendingPublisher,
    Provider,
    TokenPublisher,
    TrustedPublisher,
)

NOT_ENABLED = "trusted publishing functionality not enabled"


def trusted_publishing_disabled_reason(*, provider: str | None = None) -> str:
    """Why trusted publishing (or one provider's) is switched off, or "" when it is on."""
    if not settings.TRUSTED_PUBLISHING_ENABLED:
        return NOT_ENABLED
    flags = [AdminFlag.DISALLOW_OIDC]
    if provider:
        flags.append(f"disallow-{provider}-oidc")
    disabled = set(
        AdminFlag.objects.filter(id__in=flags, is_enabled=True).values_list("id", flat=True)
    )
    if AdminFlag.DISALLOW_OIDC in disabled:
        return NOT_ENABLED
    if disabled:
        return f"{provider} trusted publishing functionality not enabled"
    return ""


AUDIENCE_MISSING_WARNING = (
    "Trusted publishing is not configured on this server: OIDC_AUDIENCE is empty, so no CI "
    "token can be checked and a publisher added now cannot publish. Ask the server's "
    "administrator to set OIDC_AUDIENCE (the README's trusted publishing section says how)."
)


def publisher_setup_warning(*, provider: str) -> str:
    """Why a publisher of `provider` added now could not publish on this server, or "".

    Shown on the publisher pages before anyone registers one that can never work.
    """
    if trusted_publishing_disabled_reason(provider=provider):
        return (
            "Trusted publishing is switched off on this server, so a publisher added now "
            "cannot publish until an administrator turns it on again."
        )
    if provider == Provider.CUSTOM:
        issuers = OIDCIssuer.objects.filter(kind=OIDCIssuer.Kind.CUSTOM, is_enabled=True)
        if not issuers.exists():
            return (
                "No custom issuer is registered on this server, so there is none to choose. "
                "Ask an administrator to register your CI's issuer in the admin first."
            )
        if not settings.OIDC_AUDIENCE and not issuers.exclude(audience="").exists():
            return AUDIENCE_MISSING_WARNING
        return ""
    return "" if settings.OIDC_AUDIENCE else AUDIENCE_MISSING_WARNING


# Every upload by an API token runs it (the notice to the owners), so it is written out: the
# ORM's compilation cost more CPU than PostgreSQL spent answering it.
_PROJECT_HAS_PUBLISHER_SQL = "SELECT 1 FROM {attachment} WHERE project_id = %s LIMIT 1"


def project_has_publisher(project: Project) -> bool:
    """Whether any trusted publisher may publish `project` (one table: the attachments)."""
    attachment = TrustedPublisher.projects.through._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(_PROJECT_HAS_PUBLISHER_SQL.format(attachment=attachment), [project.pk])
        return cursor.fetchone() is not None


def publishers_of_token(*, publisher_id: int, token_id: UUID | None = None) -> set[int]:
    """The publishers a minted token acts for: its own and every other one matched at mint."""
    ids = {publisher_id}
    if token_id is not None:
        ids.update(
            TokenPublisher.objects.filter(token_id=token_id).values_list("publisher_id", flat=True)
        )
    return ids


def publisher_may_upload_to(
    *, publisher_id: int, project: Project, token_id: UUID | None = None
) -> bool:
    """Whether a trusted-publisher token may upload to `project` now, in one query.

    One of the publishers the token acts for (`publishers_of_token`) must still exist and be
    attached to the project at the time of the upload: a publisher removed from a project (on
    its page or in the admin) stops its live tokens at once, and a project that a pending
    publisher created after the token was minted is admitted for the rest of the release.
    """
    return TrustedPublisher.objects.filter(
        _acting_for(publisher_id=publisher_id, token_id=token_id), projects=project
    ).exists()


def hold_publisher_attachment(*, publisher_id: int, project: Project, token_id: UUID) -> bool:
    """`publisher_may_upload_to`, locking the attachments it found until the transaction ends.

    Call inside the upload's write transaction: removing the publisher from the project (which
    deletes the attachment) either committed first, and this answers False, or waits for the
    upload to commit, so no file is published after its publisher was removed.
    """
    attachments = TrustedPublisher.projects.through.objects.filter(
        project=project,
        trustedpublisher__in=TrustedPublisher.objects.filter(
            _acting_for(publisher_id=publisher_id, token_id=token_id)
        ),
    )
    return attachments.select_for_update(no_key=True).exists()


def _acting_for(*, publisher_id: int, token_id: UUID | None) -> Q:
    acting_for = Q(pk=publisher_id)
    if token_id is not None:
        acting_for |= Q(token_grants__token_id=token_id)
    return acting_for


def publishers_for_project(project: Project) -> QuerySet[TrustedPublisher]:
    return (
        TrustedPublisher.objects.filter(projects=project)
        .select_related("issuer")
        .order_by("provider", "pk")
    )


def pending_publishers_for_user(user: User) -> QuerySet[PendingPublisher]:
    return (
        PendingPublisher.objects.filter(added_by=user)
        .select_related("issuer")
        .order_by("created_at", "pk")
    )

"""Reads of trusted publishing, with their joins named."""

from django.conf import settings
from django.db.models import QuerySet

from accounts.models import User
from projects.models import Project
from publishing.models import AdminFlag, PendingPublisher, TrustedPublisher

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


def project_has_publisher(project: Project) -> bool:
    """Whether any trusted publisher may publish `project`."""
    return TrustedPublisher.objects.filter(projects=project).exists()


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

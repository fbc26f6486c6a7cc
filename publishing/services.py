"""Writes of trusted publishing: minting and burning tokens, adding and removing publishers.

Pending publishers (for projects that do not exist yet) live in `publishing.pending`.
"""

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, IntegrityError, transaction
from django.http import HttpRequest

from accounts.models import User
from accounts.notifications import email_user
from auditlog.events import EventType
from auditlog.services import record_event
from index_site.links import absolute_url
from projects.exceptions import ProjectNameError
from projects.models import Project
from projects.names import validate_project_name
from projects.selectors import get_project_by_name, owners_of_project, roles_for_project
from publishing.ci_runs import ci_run_of
from publishing.models import (
    AdminFlag,
    OIDCIssuer,
    PendingPublisher,
    Provider,
    PublisherConfig,
    TokenPublisher,
    TrustedPublisher,
    UsedJwtId,
)
from publishing.oidc.errors import (
    TokenRequestError,
    invalid_payload,
    invalid_token,
)
from publishing.oidc.providers import find_publishers
from publishing.oidc.verification import peek_issuer, verify_token
from publishing.publisher_errors import PublisherError
from publishing.selectors import (
    NOT_ENABLED,
    project_has_publisher,
    trusted_publishing_disabled_reason,
)
from tokens.exceptions import TokenVerificationError
from tokens.macaroons import verify_token as verify_api_token
from tokens.models import ApiToken
from tokens.services import create_publisher_token, revoke_api_token

logger = logging.getLogger(__name__)

# A used jti is kept this long past the token's `exp` (beyond the leeway), then deleted.
JTI_RETENTION_MARGIN = timedelta(minutes=5)
ENVIRONMENT_NOTICE_INTERVAL = 24 * 60 * 60
JTI_MISSING = (
    "token has no 'jti' claim, which this issuer's tokens must carry (it stops a token being "
    "used twice); send the token exactly as the CI provider issued it"
)


@dataclass(frozen=True)
class MintedToken:
    token: str
    expires: int
    publisher: TrustedPublisher


def _claims_data(publisher: TrustedPublisher, claims: dict[str, Any]) -> dict[str, Any]:
    """The claims worth keeping in the history: where the publish came from."""
    keep = (
        "ref",
        "ref_type",
        "ref_protected",
        "sha",
        "ref_path",
        "environment",
        "event_name",
        "workflow_ref",
        "job_workflow_ref",
    )
    data = {name: claims[name] for name in keep if isinstance(claims.get(name), str)}
    if publisher.provider == Provider.GITHUB and claims.get("workflow_ref"):
        data["reusable_workflow_used"] = claims.get("job_workflow_ref") != claims["workflow_ref"]
    return data


def _discard_unusable_pending(
    publisher: TrustedPublisher, request: HttpRequest | None
) -> TokenRequestError | None:
    """Delete the publisher's pending publishers whose project can no longer be created.

    A project created meanwhile (by anyone) or a name the policy now refuses ends the pending
    publisher (GHSA-c943-3cj2-g448). Return the refusal when that leaves the publisher nothing
    to publish to, else None.
    """
    refusal: TokenRequestError | None = None
    with transaction.atomic():
        for pending in publisher.pending_publishers.select_related("added_by"):
            if get_project_by_name(pending.project_name) is not None:
                reason = "the project was created by other means"
                error = TokenRequestError(
                    "invalid-pending-publisher", "valid token, but project already exists"
                )
            else:
                try:
                    validate_project_name(pending.project_name)
                except ProjectNameError as exc:
                    reason = exc.message
                    error = invalid_payload(exc.message)
                else:
                    continue
            record_pending_publisher_removed(
                pending=pending,
                actor=None,
                removed_by="system:project-unavailable",
                reason=reason,
                request=request,
            )
            pending.delete()
            refusal = refusal or error
        if refusal is None or publisher.projects.exists() or publisher.pending_publishers.exists():
            return None
    return refusal


def _claim_jti(*, issuer_url: str, claims: dict[str, Any]) -> None:
    """Record the token's jti as used; refuse a second use. Atomic on SQLite and PostgreSQL."""
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        return
    expires_at = datetime.fromtimestamp(int(claims["exp"]), tz=UTC) + timedelta(
        seconds=settings.OIDC_LEEWAY
    )
    try:
        with transaction.atomic():
            UsedJwtId.objects.create(
                issuer_url=issuer_url, jti=jti[:255], expires_at=expires_at + JTI_RETENTION_MARGIN
            )
    except IntegrityError:
        raise TokenRequestError("invalid-reuse-token", "invalid token: already used") from None
    except DatabaseError as exc:
        # Fail closed: nothing is minted without a replay record.
        raise TokenRequestError(
            "service-unavailable",
            "the replay store is unavailable; try again in a minute",
            status=503,
        ) from exc


def _notify_environment_ignored(
    publisher: TrustedPublisher, projects: list[Project], claims: dict[str, Any]
) -> None:
    """Tell owners that a publisher without environment accepted a token naming one."""
    environment = claims.get("environment")
    if (
        publisher.provider not in (Provider.GITHUB, Provider.GITLAB)
        or publisher.environment
        or not isinstance(environment, str)
        or not environment
        or len(projects) != 1
    ):
        return
    project = projects[0]
    throttle = f"publishing:environment-ignored:{publisher.pk}:{environment.lower()}"
    if not cache.add(throttle, 1, ENVIRONMENT_NOTICE_INTERVAL):
        return
    url = absolute_url("publishing:project", name=project.name)
    for owner in owners_of_project(project):
        email_user(
            user=owner,
            template="publishing/environment_ignored",
            context={
                "project": project,
                "publisher": publisher,
                "environment": environment,
                "publishing_url": url,
            },
        )


def mint_publisher_token(*, raw_token: str, request: HttpRequest | None = None) -> MintedToken:
    """Exchange a CI provider's JWT for a short-lived upload token; raise TokenRequestError.

    Order: issuer by exact `iss` -> signature, audience and times -> publisher match (every
    matching publisher, see `_mint`) -> jti claimed (once) -> token minted, in that order, so
    a replay never mints and a token of an unknown CI never causes a key fetch.
    """
    if not settings.TRUSTED_PUBLISHING_ENABLED:
        raise TokenRequestError("not-enabled", NOT_ENABLED)
    issuer = peek_issuer(raw_token)
    # One query for the global and the provider's admin flags.
    disabled = trusted_publishing_disabled_reason(provider=issuer.provider)
    if disabled:
        raise TokenRequestError("not-enabled", disabled)
    claims = verify_token(raw_token, issuer)
    if issuer.requires_jti and not claims.get("jti"):
        # A token problem (the CI must send its token unaltered), not a publisher mismatch.
        raise invalid_token(JTI_MISSING)
    usable: list[TrustedPublisher] = []
    refusals: list[TokenRequestError] = []
    for publisher in find_publishers(issuer, claims):
        refusal = _discard_unusable_pending(publisher, request)
        if refusal is None:
            usable.append(publisher)
        else:
            refusals.append(refusal)
    if not usable:
        raise refusals[0]
    return _mint(publishers=usable, issuer_url=issuer.url, claims=claims, request=request)


@transaction.atomic
def _mint(
    *,
    publishers: list[TrustedPublisher],
    issuer_url: str,
    claims: dict[str, Any],
    request: HttpRequest | None,
) -> MintedToken:
    """Mint one token acting for every publisher the CI identity satisfies.

    Why all of them, not the most specific one: a publisher only says "this CI identity may
    publish these projects", and anyone may register one for any CI identity. The identity
    proved by the JWT satisfies each matched publisher, so it may publish the union of their
    projects; choosing one would let a narrower copy registered by someone else (a pending
    publisher included) shadow the real one, and the real project's release would be refused.
    The union gives a stranger's publisher nothing: its projects become publishable by a CI
    its registrant named, which is what registering it asked for. Refusing the ambiguity
    instead would hand anyone a way to stop another project's releases.

    The token row names the most specific publisher (the OIDCPublisher caveat holds one id);
    every matched publisher is recorded in TokenPublisher, and an upload checks at use time
    that one of them is still attached to the project (publishing.selectors.
    publisher_may_upload_to).
    """
    _claim_jti(issuer_url=issuer_url, claims=claims)
    primary = publishers[0]
    granted_by: dict[int, TrustedPublisher] = {}
    projects_of: dict[int, list[Project]] = {}
    for publisher in publishers:
        projects_of[publisher.pk] = list(publisher.projects.order_by("pk"))
        for project in projects_of[publisher.pk]:
            granted_by.setdefault(project.pk, publisher)
    projects = sorted(
        {project.pk: project for own in projects_of.values() for project in own}.values(),
        key=lambda project: project.pk,
    )
    ci_run = ci_run_of(provider=primary.provider, issuer_url=issuer_url, claims=claims)
    token, raw = create_publisher_token(
        publisher_id=primary.pk,
        project_ids=[project.pk for project in projects],
        lifetime=settings.OIDC_TOKEN_LIFETIME,
        ci_run=ci_run,
        request=request,
    )
    TokenPublisher.objects.bulk_create(
        TokenPublisher(token=token, publisher=publisher) for publisher in publishers
    )
    expires = int(token.expires_at.timestamp()) if token.expires_at else int(time.time())
    for project in projects:
        publisher = granted_by[project.pk]
        record_event(
            event_type=EventType.PROJECT_SHORT_LIVED_API_TOKEN_ADDED,
            actor=None,
            request=request,
            project=project,
            data={
                "expires": expires,
                "publisher_name": publisher.display_name,
                "publisher_id": publisher.pk,
                "publisher_url": publisher.url,
                **_claims_data(publisher, claims),
                **({"ci_run_url": ci_run["run_url"]} if "run_url" in ci_run else {}),
            },
        )
    for publisher in publishers:
        _notify_environment_ignored(publisher, projects_of[publisher.pk], claims)
    return MintedToken(token=raw, expires=expires, publisher=primary)


def burn_publisher_token(*, raw_token: str, request: HttpRequest | None = None) -> None:
    """Revoke a minted trusted-publishing token at once (uv calls this after publishing).

    Raise TokenRequestError for anything that is not a valid trusted-publishing token.
    """
    try:
        verified = verify_api_token(raw_token, client_ip="", now=int(time.time()))
    except TokenVerificationError as exc:
        raise TokenRequestError("invalid-token", "malformed or invalid token") from exc
    if not verified.token.is_trusted_publisher:
        raise TokenRequestError("invalid-token", "only trusted publishing tokens can be burned")
    revoke_api_token(
        token=verified.token,
        actor=None,
        reason="burned by the trusted publishing client",
        request=request,
    )


def _notify_collaborators(
    *, project: Project, publisher: TrustedPublisher, actor: User, template: str
) -> None:
    url = absolute_url("publishing:project", name=project.name)
    for role in roles_for_project(project):
        email_user(
            user=role.user,
            template=template,
            context={
                "project": project,
                "publisher": publisher,
                "actor": actor,
                "publishing_url": url,
            },
        )


def get_or_create_publisher(*, config: dict[str, Any]) -> TrustedPublisher:
    """The publisher row with this configuration, created when none exists."""
    candidate = TrustedPublisher(**config)
    key = candidate.compute_config_key()
    existing = TrustedPublisher.objects.filter(config_key=key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError:
        return TrustedPublisher.objects.get(config_key=key)
    return candidate


def publisher_config_data(publisher: PublisherConfig) -> dict[str, Any]:
    """The parts of a configuration worth their own keys in the history (beyond its name)."""
    data: dict[str, Any] = {"provider": publisher.provider, "url": publisher.url}
    if publisher.provider == Provider.GITHUB:
        if publisher.uses_reusable_workflow:
            data["reusable_workflow"] = publisher.reusable_workflow
            data["reusable_workflow_ref"] = publisher.reusable_workflow_ref
        else:
            data["workflow"] = publisher.workflow_filename
    if publisher.provider in (Provider.GITHUB, Provider.GITLAB):
        data["ref_type"] = publisher.ref_type or "any"
        data["ref_pattern"] = publisher.ref_pattern
    if publisher.provider == Provider.GITLAB:
        data["requires_protected_ref"] = publisher.requires_protected_ref
    return data


def publisher_event_data(publisher: TrustedPublisher) -> dict[str, Any]:
    """What the audit events about adding or removing a project's publisher say of it."""
    return {
        "publisher": publisher.display_name,
        "publisher_id": publisher.pk,
        **publisher_config_data(publisher),
    }


def record_pending_publisher_removed(
    *,
    pending: PendingPublisher,
    actor: User | None,
    removed_by: str,
    reason: str | None = None,
    request: HttpRequest | None = None,
) -> None:
    """Record on the registrant's history that `pending` is being deleted, and by whom."""
    data = {
        "project": pending.project_name,
        "publisher": pending.display_name,
        "removed_by": removed_by,
    }
    if reason is not None:
        data["reason"] = reason
    record_event(
        event_type=EventType.ACCOUNT_OIDC_PENDING_PUBLISHER_REMOVED,
        actor=actor,
        user=pending.added_by,
        request=request,
        data=data,
    )


def delete_publisher_if_orphaned(publisher: TrustedPublisher) -> None:
    """Delete the publisher row once no project and no pending publisher uses it."""
    if not publisher.projects.exists() and not publisher.pending_publishers.exists():
        publisher.delete()


@transaction.atomic
def add_publisher_to_project(
    *, project: Project, config: dict[str, Any], actor: User, request: HttpRequest | None = None
) -> TrustedPublisher:
    """Let the CI identity `config` publish `project`; email every collaborator."""
    publisher = get_or_create_publisher(config=config)
    attach_publisher_to_project(project=project, publisher=publisher, actor=actor, request=request)
    return publisher


@transaction.atomic
def attach_publisher_to_project(
    *,
    project: Project,
    publisher: TrustedPublisher,
    actor: User,
    request: HttpRequest | None = None,
) -> None:
    """Let an existing publisher publish `project` too; email every collaborator."""
    if publisher.projects.filter(pk=project.pk).exists():
        raise PublisherError(f"{publisher.display_name} is already registered with {project.name}.")
    publisher.projects.add(project)
    record_event(
        event_type=EventType.PROJECT_OIDC_PUBLISHER_ADDED,
        actor=actor,
        request=request,
        project=project,
        data={
            **publisher_event_data(publisher),
            "submitted_by": actor.username,
        },
    )
    _notify_collaborators(
        project=project, publisher=publisher, actor=actor, template="publishing/publisher_added"
    )


@transaction.atomic
def remove_publisher_from_project(
    *,
    project: Project,
    publisher: TrustedPublisher,
    actor: User,
    request: HttpRequest | None = None,
) -> None:
    """Stop `publisher` publishing `project`; its live tokens are revoked at once."""
    if not publisher.projects.filter(pk=project.pk).exists():
        raise PublisherError("This publisher is not registered with this project.")
    publisher.projects.remove(project)
    record_event(
        event_type=EventType.PROJECT_OIDC_PUBLISHER_REMOVED,
        actor=actor,
        request=request,
        project=project,
        data={
            **publisher_event_data(publisher),
            "removed_by": actor.username,
        },
    )
    _notify_collaborators(
        project=project, publisher=publisher, actor=actor, template="publishing/publisher_removed"
    )
    # Minted tokens list the projects they were minted for; revoke them so the removal takes
    # effect now, not in up to 15 minutes.
    for token in ApiToken.objects.filter(publisher_id=publisher.pk):
        revoke_api_token(
            token=token,
            actor=actor,
            reason=f"trusted publisher removed from {project.name}",
            request=request,
        )
    delete_publisher_if_orphaned(publisher)


@transaction.atomic
def set_admin_flag(
    *,
    flag_id: str,
    is_enabled: bool,
    description: str,
    actor: User,
    request: HttpRequest | None = None,
) -> AdminFlag:
    """Turn an admin flag (such as `disallow-oidc`) on or off, on the actor's history."""
    flag = AdminFlag.objects.select_for_update().filter(pk=flag_id).first()
    was_enabled = flag.is_enabled if flag is not None else None
    was_description = flag.description if flag is not None else None
    if flag is None:
        flag = AdminFlag(id=flag_id)
    if (was_enabled, was_description) == (is_enabled, description):
        return flag
    flag.is_enabled = is_enabled
    flag.description = description
    flag.save()
    record_event(
        event_type=EventType.ADMIN_FLAG_CHANGED,
        actor=actor,
        request=request,
        data={
            "flag": flag.pk,
            "is_enabled": is_enabled,
            "was_enabled": was_enabled,
            "description": description,
        },
    )
    return flag


@transaction.atomic
def save_oidc_issuer(
    *,
    issuer: OIDCIssuer,
    changed_fields: list[str],
    actor: User,
    request: HttpRequest | None = None,
) -> None:
    """Add or change a registered OIDC issuer, on the actor's history."""
    action = "added" if issuer.pk is None else "changed"
    issuer.save()
    record_event(
        event_type=EventType.ADMIN_OIDC_ISSUER_CHANGED,
        actor=actor,
        request=request,
        data={
            "action": action,
            "issuer": issuer.name,
            "issuer_url": issuer.issuer_url,
            "fields": sorted(changed_fields),
            "is_enabled": issuer.is_enabled,
        },
    )


@transaction.atomic
def delete_oidc_issuer(
    *, issuer: OIDCIssuer, actor: User, request: HttpRequest | None = None
) -> None:
    """Delete a registered OIDC issuer no publisher uses, on the actor's history."""
    record_event(
        event_type=EventType.ADMIN_OIDC_ISSUER_CHANGED,
        actor=actor,
        request=request,
        data={"action": "deleted", "issuer": issuer.name, "issuer_url": issuer.issuer_url},
    )
    issuer.delete()


def notify_token_upload_to_published_project(*, project: Project, identity: Any) -> None:
    """Email owners when a long-lived API token uploaded to a project with a trusted publisher.

    Call it after a successful upload by a user token (not by a trusted publisher). A project
    that publishes from CI should not see uploads from personal tokens; if this one was not
    expected, the token may be stolen.
    """
    if getattr(identity, "is_trusted_publisher", False):
        return
    if not project_has_publisher(project):
        return
    user = getattr(identity, "user", None)
    tokens_url = absolute_url("tokens:list")
    publishing_url = absolute_url("publishing:project", name=project.name)
    for owner in owners_of_project(project):
        email_user(
            user=owner,
            template="publishing/token_upload_to_published_project",
            context={
                "project": project,
                "uploader": getattr(user, "username", ""),
                "token_name": getattr(identity, "token_name", ""),
                "tokens_url": tokens_url,
                "publishing_url": publishing_url,
            },
        )

"""Collaborators: invitations, role changes and removals.

Every change records its audit event in the same transaction and emails every owner (and the
person affected), so an attacker who takes over one owner account cannot quietly add a
collaborator or push out the real owners (the 2023-12 PyPI incident). A project always keeps at
least one owner: the owner rows are locked before the last one can be demoted or removed.
"""

from datetime import datetime

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User
from accounts.notifications import email_user
from accounts.selectors import get_user_by_username, verified_primary_email_for_user
from auditlog.events import EventType
from auditlog.services import record_event
from index_site.links import absolute_url
from projects.exceptions import PermissionDeniedError, RoleError
from projects.models import Project, Role, RoleInvitation
from projects.services.projects import bump_serial

INVITATION_SALT = "projects.role-invitation"
ROLE_CHOICES = frozenset(Role.Kind.values)


def _project_links(project: Project) -> dict[str, str]:
    return {
        "project_url": absolute_url("projects:detail", name=project.normalized_name),
        "settings_url": absolute_url("projects:settings", name=project.normalized_name),
        "history_url": absolute_url("projects:history", name=project.normalized_name),
    }


def _email_owners_and(
    *, project: Project, template: str, context: dict, also: User | None = None
) -> None:
    """Email every owner of `project`, and `also` (the person affected) if not an owner."""
    recipients = {
        user.pk: user
        for user in User.objects.filter(
            project_roles__project=project, project_roles__role=Role.Kind.OWNER
        )
    }
    if also is not None:
        recipients.setdefault(also.pk, also)
    for recipient in recipients.values():
        email_user(
            user=recipient,
            template=template,
            context={"project": project, **_project_links(project), **context},
        )


def _require_owner(*, project: Project, actor: User) -> None:
    if not Role.objects.filter(project=project, user=actor, role=Role.Kind.OWNER).exists():
        raise PermissionDeniedError(
            "Only the project's owners can manage collaborators. Ask an owner to make the change."
        )


def _check_role(role: str) -> str:
    if role not in ROLE_CHOICES:
        raise RoleError("Choose a role: Owner or Maintainer.")
    return role


@transaction.atomic
def record_authorization_denied(
    *, actor: User, project: Project | None, action: str, request: HttpRequest | None = None
) -> None:
    """Record that `actor` tried `action` on `project` without the permission for it."""
    record_event(
        event_type=EventType.AUTHZ_DENIED,
        actor=actor,
        request=request,
        project=project,
        data={"action": action},
    )


def make_invitation_token(invitation: RoleInvitation) -> str:
    """A signed, expiring token for the invitation email's link (bound to the invitee)."""
    return signing.dumps(
        {"invitation": invitation.pk, "invitee": invitation.invitee_id}, salt=INVITATION_SALT
    )


def read_invitation_token(token: str) -> dict[str, int] | None:
    """The token's payload, or None when it is forged, malformed or older than the expiry."""
    try:
        payload = signing.loads(
            token,
            salt=INVITATION_SALT,
            max_age=settings.ROLE_INVITATION_MAX_AGE,
        )
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict):
        return None
    return payload


@transaction.atomic
def invite_collaborator(
    *,
    project: Project,
    username: str,
    role: str,
    actor: User,
    request: HttpRequest | None = None,
) -> RoleInvitation:
    """Invite `username` to `project` as `role`; they must accept before they get the role.

    Raise PermissionDeniedError unless `actor` is an owner, and RoleError (with a message for
    the owner) when the user does not exist, cannot receive email, already has a role or a
    pending invitation.
    """
    _require_owner(project=project, actor=actor)
    _check_role(role)
    invitee = get_user_by_username(username.strip())
    if invitee is None:
        raise RoleError(f"No active user is named {username.strip()!r}. Check the username.")
    if Role.objects.filter(project=project, user=invitee).exists():
        raise RoleError(
            f"{invitee.username} already has a role on {project.name}. Change their role instead."
        )
    if verified_primary_email_for_user(invitee) is None:
        raise RoleError(
            f"{invitee.username} has no verified primary email address, so they cannot receive "
            "the invitation. Ask them to verify their address first."
        )
    now = timezone.now()
    existing = RoleInvitation.objects.filter(project=project, invitee=invitee).first()
    if existing is not None:
        if existing.expires_at > now:
            raise RoleError(
                f"{invitee.username} already has a pending invitation. Revoke it to invite them "
                "with a different role."
            )
        existing.delete()
    invitation = RoleInvitation.objects.create(
        project=project,
        invitee=invitee,
        invited_by=actor,
        role=role,
        expires_at=now + settings.ROLE_INVITATION_MAX_AGE,
    )
    record_event(
        event_type=EventType.PROJECT_ROLE_INVITE,
        actor=actor,
        request=request,
        user=invitee,
        project=project,
        data={"role": role, "target_user": invitee.username},
    )
    token = make_invitation_token(invitation)
    email_user(
        user=invitee,
        template="projects/role_invitation",
        context={
            "project": project,
            "invitation": invitation,
            "inviter": actor,
            "accept_url": absolute_url("projects:invitation", token=token),
            "invitations_url": absolute_url("projects:mine"),
            **_project_links(project),
        },
    )
    _email_owners_and(
        project=project,
        template="projects/collaborator_invited",
        context={"invitee": invitee, "role": role, "actor": actor},
    )
    return invitation


def _load_invitation_for(*, invitation: RoleInvitation, user: User) -> RoleInvitation:
    locked = (
        RoleInvitation.objects.select_for_update(of=("self",))
        .select_related("project", "invited_by")
        .filter(pk=invitation.pk)
        .first()
    )
    if locked is None or locked.invitee_id != user.pk:
        raise RoleError("This invitation no longer exists. Ask an owner to invite you again.")
    if locked.expires_at <= timezone.now():
        raise RoleError("This invitation has expired. Ask an owner to invite you again.")
    return locked


@transaction.atomic
def accept_invitation(
    *, invitation: RoleInvitation, user: User, request: HttpRequest | None = None
) -> Role:
    """Give `user` the invited role; the invitation is used up. Emails every owner."""
    invitation = _load_invitation_for(invitation=invitation, user=user)
    project = invitation.project
    role = Role.objects.create(project=project, user=user, role=invitation.role)
    bump_serial(project=project)  # the JSON API lists the roles (`ownership`)
    inviter = invitation.invited_by
    invitation.delete()
    record_event(
        event_type=EventType.PROJECT_ROLE_ADD,
        actor=user,
        request=request,
        project=project,
        data={
            "role": role.role,
            "target_user": user.username,
            "invited_by": getattr(inviter, "username", ""),
        },
    )
    _email_owners_and(
        project=project,
        template="projects/role_added",
        context={"target": user, "role": role.role, "actor": inviter or user},
        also=user,
    )
    return role


@transaction.atomic
def decline_invitation(
    *, invitation: RoleInvitation, user: User, request: HttpRequest | None = None
) -> None:
    """Turn the invitation down; nothing changes on the project."""
    invitation = _load_invitation_for(invitation=invitation, user=user)
    project = invitation.project
    role = invitation.role
    invitation.delete()
    record_event(
        event_type=EventType.PROJECT_ROLE_DECLINE_INVITE,
        actor=user,
        request=request,
        project=project,
        data={"role": role, "target_user": user.username},
    )


@transaction.atomic
def revoke_invitation(
    *, invitation: RoleInvitation, actor: User, request: HttpRequest | None = None
) -> None:
    """Withdraw a pending invitation (owners only)."""
    _require_owner(project=invitation.project, actor=actor)
    project = invitation.project
    invitee = invitation.invitee
    deleted, _ = RoleInvitation.objects.filter(pk=invitation.pk).delete()
    if not deleted:
        raise RoleError("This invitation no longer exists.")
    record_event(
        event_type=EventType.PROJECT_ROLE_REVOKE_INVITE,
        actor=actor,
        request=request,
        user=invitee,
        project=project,
        data={"role": invitation.role, "target_user": invitee.username},
    )


def _lock_owners(project: Project, *, actor: User | None) -> list[Role]:
    """Lock the owner rows so two owners cannot demote or remove each other at once.

    With `actor`, check under the lock that they are (still) an owner: one removed a moment
    ago by another owner can no longer act.
    """
    owners = list(Role.objects.select_for_update().filter(project=project, role=Role.Kind.OWNER))
    if actor is not None and all(owner.user_id != actor.pk for owner in owners):
        raise PermissionDeniedError(
            "Only the project's owners can manage collaborators. Ask an owner to make the change."
        )
    return owners


@transaction.atomic
def change_role(
    *, role: Role, new_role: str, actor: User, request: HttpRequest | None = None
) -> Role:
    """Make `role.user` an Owner or a Maintainer (owners only); the last owner stays an owner."""
    _check_role(new_role)
    project = role.project
    owners = _lock_owners(project, actor=actor)
    role = Role.objects.select_for_update(of=("self",)).select_related("user").get(pk=role.pk)
    old_role = role.role
    if old_role == new_role:
        return role
    if old_role == Role.Kind.OWNER and len(owners) <= 1:
        raise RoleError(
            f"{role.user.username} is the only owner of {project.name}. Make another "
            "collaborator an owner first."
        )
    role.role = new_role
    role.save(update_fields=["role"])
    bump_serial(project=project)
    record_event(
        event_type=EventType.PROJECT_ROLE_CHANGE,
        actor=actor,
        request=request,
        user=role.user,
        project=project,
        data={"role": new_role, "previous_role": old_role, "target_user": role.user.username},
    )
    _email_owners_and(
        project=project,
        template="projects/role_changed",
        context={
            "target": role.user,
            "role": new_role,
            "previous_role": old_role,
            "actor": actor,
        },
        also=role.user,
    )
    return role


@transaction.atomic
def remove_role(*, role: Role, actor: User, request: HttpRequest | None = None) -> None:
    """Take `role.user` off the project: an owner removes anyone, anyone may leave.

    The last owner can neither be removed nor leave, so a project never ends up ownerless.
    """
    project = role.project
    owners = _lock_owners(project, actor=None if role.user_id == actor.pk else actor)
    locked = (
        Role.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(pk=role.pk)
        .first()
    )
    if locked is None:
        raise RoleError("This collaborator has already been removed.")
    if locked.role == Role.Kind.OWNER and len(owners) <= 1:
        raise RoleError(
            f"{locked.user.username} is the only owner of {project.name} and cannot be removed. "
            "Make another collaborator an owner first."
        )
    target = locked.user
    old_role = locked.role
    locked.delete()
    bump_serial(project=project)
    record_event(
        event_type=EventType.PROJECT_ROLE_REMOVE,
        actor=actor,
        request=request,
        user=target,
        project=project,
        data={"role": old_role, "target_user": target.username},
    )
    _email_owners_and(
        project=project,
        template="projects/role_removed",
        context={"target": target, "role": old_role, "actor": actor},
        also=target,
    )


@transaction.atomic
def expire_role_invitations(*, now: datetime | None = None) -> int:
    """Delete invitations past their expiry; return how many."""
    deleted, _ = RoleInvitation.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted

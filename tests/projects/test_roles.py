import datetime
import re

import pytest
import time_machine
from django.core import signing
from django.utils import timezone

from auditlog.models import AuditEvent
from index_site.models import OutboxEmail
from projects.exceptions import PermissionDeniedError, RoleError
from projects.models import Role, RoleInvitation
from projects.services.roles import (
    accept_invitation,
    change_role,
    decline_invitation,
    expire_role_invitations,
    invite_collaborator,
    make_invitation_token,
    read_invitation_token,
    remove_role,
    revoke_invitation,
)
from projects.tasks import expire_role_invitations as expire_task
from tests.factories import RoleFactory, TwoFactorUserFactory, UserFactory


def _events(project, event_type):
    return list(AuditEvent.objects.filter(project=project, event_type=event_type))


def _recipients(template):
    return sorted(OutboxEmail.objects.filter(template=template).values_list("recipient", flat=True))


def test_owner_invites_and_invitee_accepts(project, owner):
    invitee = UserFactory()
    invitation = invite_collaborator(
        project=project, username=invitee.username, role=Role.Kind.MAINTAINER, actor=owner
    )
    assert not Role.objects.filter(project=project, user=invitee).exists()
    [event] = _events(project, "project:role:invite")
    assert event.actor == owner
    assert event.user == invitee
    assert event.data == {"role": "Maintainer", "target_user": invitee.username}
    [email] = OutboxEmail.objects.filter(template="projects/role_invitation")
    assert email.recipient == invitee.email
    assert f"{owner.username} invited you" in email.subject
    assert "http://testserver/invitations/" in email.body_text
    assert _recipients("projects/collaborator_invited") == [owner.email]

    role = accept_invitation(invitation=invitation, user=invitee)
    assert role.role == Role.Kind.MAINTAINER
    assert not RoleInvitation.objects.exists()
    [added] = [
        e for e in _events(project, "project:role:add") if e.data["target_user"] == invitee.username
    ]
    assert added.data["invited_by"] == owner.username
    assert _recipients("projects/role_added") == sorted([owner.email, invitee.email])


def test_invitee_declines(project, owner):
    invitee = UserFactory()
    invitation = invite_collaborator(
        project=project, username=invitee.username, role=Role.Kind.OWNER, actor=owner
    )
    decline_invitation(invitation=invitation, user=invitee)
    assert not RoleInvitation.objects.exists()
    assert not Role.objects.filter(user=invitee).exists()
    assert len(_events(project, "project:role:decline_invite")) == 1


def test_owner_revokes_invitation(project, owner):
    invitee = UserFactory()
    invitation = invite_collaborator(
        project=project, username=invitee.username, role=Role.Kind.OWNER, actor=owner
    )
    revoke_invitation(invitation=invitation, actor=owner)
    assert not RoleInvitation.objects.exists()
    assert len(_events(project, "project:role:revoke_invite")) == 1
    with pytest.raises(RoleError, match="no longer exists"):
        accept_invitation(invitation=invitation, user=invitee)


def test_only_the_invitee_can_accept(project, owner):
    invitee = UserFactory()
    invitation = invite_collaborator(
        project=project, username=invitee.username, role=Role.Kind.OWNER, actor=owner
    )
    with pytest.raises(RoleError, match="no longer exists"):
        accept_invitation(invitation=invitation, user=UserFactory())
    assert not Role.objects.filter(role=Role.Kind.OWNER).exclude(user=owner).exists()


def test_expired_invitation_cannot_be_accepted_and_is_deleted_by_the_task(project, owner):
    invitee = UserFactory()
    invitation = invite_collaborator(
        project=project, username=invitee.username, role=Role.Kind.MAINTAINER, actor=owner
    )
    later = timezone.now() + datetime.timedelta(hours=73)
    with time_machine.travel(later, tick=False):
        with pytest.raises(RoleError, match="has expired"):
            accept_invitation(invitation=invitation, user=invitee)
        assert expire_task.delay().get() == 1
    assert not RoleInvitation.objects.exists()
    assert not Role.objects.filter(user=invitee).exists()


def test_expire_keeps_pending_invitations(project, owner):
    invite_collaborator(
        project=project, username=UserFactory().username, role=Role.Kind.OWNER, actor=owner
    )
    assert expire_role_invitations() == 0
    assert RoleInvitation.objects.count() == 1


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("unknown", "No active user is named 'ghost'"),
        ("member", "already has a role"),
        ("pending", "already has a pending invitation"),
        ("unverified", "no verified primary email address"),
    ],
)
def test_invitation_refusals_explain_what_to_do(project, owner, maintainer, setup, message):
    username = "ghost"
    if setup == "member":
        username = maintainer.username
    elif setup == "pending":
        username = UserFactory().username
        invite_collaborator(project=project, username=username, role="Owner", actor=owner)
    elif setup == "unverified":
        username = UserFactory(email__verified=False).username
    with pytest.raises(RoleError, match=message):
        invite_collaborator(project=project, username=username, role="Owner", actor=owner)


def test_expired_invitation_can_be_renewed(project, owner):
    invitee = UserFactory()
    invite_collaborator(project=project, username=invitee.username, role="Owner", actor=owner)
    with time_machine.travel(timezone.now() + datetime.timedelta(days=4), tick=False):
        invitation = invite_collaborator(
            project=project, username=invitee.username, role="Maintainer", actor=owner
        )
    assert RoleInvitation.objects.get().pk == invitation.pk


def test_maintainer_cannot_invite_change_or_remove(project, owner, maintainer):
    owner_role = Role.objects.get(project=project, user=owner)
    with pytest.raises(PermissionDeniedError):
        invite_collaborator(
            project=project, username=UserFactory().username, role="Owner", actor=maintainer
        )
    with pytest.raises(PermissionDeniedError):
        change_role(role=owner_role, new_role="Maintainer", actor=maintainer)
    with pytest.raises(PermissionDeniedError):
        remove_role(role=owner_role, actor=maintainer)
    assert Role.objects.get(pk=owner_role.pk).role == Role.Kind.OWNER


def test_role_change_emails_all_owners_and_the_target(project, owner, maintainer):
    second_owner = TwoFactorUserFactory()
    RoleFactory(project=project, user=second_owner, role=Role.Kind.OWNER)
    role = Role.objects.get(project=project, user=maintainer)
    change_role(role=role, new_role=Role.Kind.OWNER, actor=owner)
    assert Role.objects.get(pk=role.pk).role == Role.Kind.OWNER
    [event] = _events(project, "project:role:change")
    assert event.data == {
        "role": "Owner",
        "previous_role": "Maintainer",
        "target_user": maintainer.username,
    }
    assert _recipients("projects/role_changed") == sorted(
        [owner.email, second_owner.email, maintainer.email]
    )
    body = OutboxEmail.objects.filter(template="projects/role_changed").first().body_text
    assert f"changed {maintainer.username}'s role on Widget from Maintainer to Owner" in body
    assert "http://testserver/manage/project/widget/history/" in body


def test_removal_emails_all_owners_and_the_removed_user(project, owner, maintainer):
    second_owner = TwoFactorUserFactory()
    RoleFactory(project=project, user=second_owner, role=Role.Kind.OWNER)
    remove_role(role=Role.objects.get(project=project, user=second_owner), actor=owner)
    assert not Role.objects.filter(user=second_owner).exists()
    [event] = _events(project, "project:role:remove")
    assert event.data == {"role": "Owner", "target_user": second_owner.username}
    # Remaining owners and the removed owner hear about it (the account-takeover pattern).
    assert _recipients("projects/role_removed") == sorted([owner.email, second_owner.email])


def test_last_owner_cannot_be_demoted_removed_or_leave(project, owner, maintainer):
    role = Role.objects.get(project=project, user=owner)
    with pytest.raises(RoleError, match="only owner"):
        change_role(role=role, new_role=Role.Kind.MAINTAINER, actor=owner)
    with pytest.raises(RoleError, match="only owner"):
        remove_role(role=role, actor=owner)
    assert Role.objects.get(pk=role.pk).role == Role.Kind.OWNER
    assert not _events(project, "project:role:remove")


def test_maintainer_may_leave(project, maintainer):
    remove_role(role=Role.objects.get(project=project, user=maintainer), actor=maintainer)
    assert not Role.objects.filter(user=maintainer).exists()


def test_owner_may_leave_when_another_owner_remains(project, owner):
    other = TwoFactorUserFactory()
    RoleFactory(project=project, user=other, role=Role.Kind.OWNER)
    remove_role(role=Role.objects.get(project=project, user=owner), actor=owner)
    assert list(Role.objects.filter(project=project).values_list("user", flat=True)) == [other.pk]


def test_invitation_token_is_signed_and_expires(project, owner):
    invitee = UserFactory()
    invitation = invite_collaborator(
        project=project, username=invitee.username, role="Owner", actor=owner
    )
    token = make_invitation_token(invitation)
    assert read_invitation_token(token) == {"invitation": invitation.pk, "invitee": invitee.pk}
    forged = signing.dumps({"invitation": invitation.pk, "invitee": 1}, salt="other")
    assert read_invitation_token(forged) is None
    assert read_invitation_token(token[:-2] + "xx") is None
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=73), tick=False):
        assert read_invitation_token(token) is None


def test_invitation_email_link_contains_a_valid_token(project, owner):
    invitee = UserFactory()
    invite_collaborator(project=project, username=invitee.username, role="Owner", actor=owner)
    body = OutboxEmail.objects.get(template="projects/role_invitation").body_text
    token = re.search(r"http://testserver/invitations/([^/\s]+)/", body).group(1)
    assert read_invitation_token(token)["invitee"] == invitee.pk


def test_takeover_pattern_invite_accept_remove_owner_alerts_the_original_owner(project, owner):
    """security.md #141: an attacker with one owner session adds an account, then ousts owners."""
    accomplice = TwoFactorUserFactory()
    invitation = invite_collaborator(
        project=project, username=accomplice.username, role=Role.Kind.OWNER, actor=owner
    )
    accept_invitation(invitation=invitation, user=accomplice)
    remove_role(role=Role.objects.get(project=project, user=owner), actor=accomplice)

    # The original owner heard about every step, including their own removal.
    assert owner.email in _recipients("projects/collaborator_invited")
    assert owner.email in _recipients("projects/role_added")
    assert owner.email in _recipients("projects/role_removed")
    # And the project history keeps the whole story.
    assert [
        e.event_type
        for e in AuditEvent.objects.filter(project=project).order_by("pk")
        if e.event_type.startswith("project:role")
    ] == ["project:role:add", "project:role:invite", "project:role:add", "project:role:remove"]

"""Project management pages: "Your projects", settings, collaborators, history, invitations.

Every view needs a second factor under the 2FA policy (`protected(Need.SECOND_FACTOR)`); role
changes also need a recent password (`Need.FRESH_AUTH`). Owner-only actions check the role on
every request, POST included, and record `authz:denied` when refused.
"""

from collections.abc import Callable
from functools import wraps
from typing import Concatenate, ParamSpec

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.http import AuthenticatedRequest
from accounts.next_urls import two_factor_setup_redirect, where_the_request_was_going
from accounts.protection import TWO_FACTOR_REQUIRED_MESSAGE, Need, protected
from auditlog.history import export_response, history_context
from auditlog.selectors import events_for_project
from index_site.single_values import single_query_value
from projects.exceptions import RoleError
from projects.forms import ChangeRoleForm, InviteCollaboratorForm, TrustedPublishingOnlyForm
from projects.models import Project, Role, RoleInvitation
from projects.names import normalize_project_name
from projects.permissions import owned_project_or_denied
from projects.policy import two_factor_missing
from projects.selectors import (
    PROJECT_ORDERINGS,
    pending_invitations_for_project,
    pending_invitations_for_user,
    projects_for_user,
    roles_for_project,
)
from projects.services.projects import set_trusted_publishing_only
from projects.services.roles import (
    accept_invitation,
    change_role,
    decline_invitation,
    invite_collaborator,
    read_invitation_token,
    remove_role,
    revoke_invitation,
)
from projects.services.status import appeal_instructions


def _project(name: str) -> Project:
    return get_object_or_404(Project, normalized_name=normalize_project_name(name))


def _owned_project(request: AuthenticatedRequest, name: str, action: str) -> Project:
    """The project, if the user owns it; otherwise record `authz:denied` and answer 403."""
    return owned_project_or_denied(name=name, user=request.user, action=action, request=request)


def _back_to_settings(project: Project) -> HttpResponse:
    return redirect("projects:settings", name=project.normalized_name)


@protected(Need.SECOND_FACTOR)
@require_safe
def my_projects(request: AuthenticatedRequest) -> HttpResponse:
    """The user's projects with their role, and the invitations waiting for an answer.

    `?critical=1` lists only critical projects; `?order=` is one of PROJECT_ORDERINGS (name,
    newest, critical first, most downloaded over the critical-projects window).
    """
    critical_only = single_query_value(request.GET, "critical") == "1"
    order = single_query_value(request.GET, "order", "name")
    if order not in PROJECT_ORDERINGS:
        order = "name"
    return render(
        request,
        "projects/mine.html",
        {
            "projects": projects_for_user(request.user, critical_only=critical_only, order=order),
            "invitations": pending_invitations_for_user(request.user),
            "critical_only": critical_only,
            "order": order,
            "downloads_window_days": settings.CRITICAL_PROJECTS_WINDOW_DAYS,
            "two_factor_policy": settings.TWO_FACTOR_POLICY,
        },
    )


@protected(Need.SECOND_FACTOR, Need.FRESH_AUTH)
@require_safe
def project_settings(request: AuthenticatedRequest, name: str) -> HttpResponse:
    """Collaborators, invitations and the trusted-publishing-only switch (owners only)."""
    project = _owned_project(request, name, "project:settings:view")
    return render(
        request,
        "projects/settings.html",
        {
            "project": project,
            "roles": roles_for_project(project),
            "invitations": pending_invitations_for_project(project),
            "invite_form": InviteCollaboratorForm(),
            "role_choices": Role.Kind.choices,
            "appeal": appeal_instructions(),
        },
    )


@protected(Need.SECOND_FACTOR)
@require_safe
def project_history(request: AuthenticatedRequest, name: str) -> HttpResponse:
    """The project's audit events, newest first (owners only)."""
    project = _owned_project(request, name, "project:history:view")
    return render(
        request,
        "projects/history.html",
        {"project": project, **history_context(request, events_for_project(project))},
    )


@protected(Need.SECOND_FACTOR)
@require_safe
def project_history_export(request: AuthenticatedRequest, name: str, fmt: str) -> HttpResponseBase:
    """The project's audit events of the filtered view, as JSON Lines or CSV (owners only)."""
    project = _owned_project(request, name, "project:history:view")
    return export_response(
        request,
        events_for_project(project),
        filename=f"{project.normalized_name}-history",
        fmt=fmt,
    )


P = ParamSpec("P")


def _owner_action(
    action: str,
) -> Callable[
    [Callable[Concatenate[AuthenticatedRequest, Project, P], str | None]],
    Callable[..., HttpResponse],
]:
    """An owner-only change posted from the project's settings page.

    The wrapped function gets the owned project (anyone else gets 403 and `authz:denied` is
    recorded under `action`, GET included) and runs only on POST; it returns the success message,
    or None when there is nothing to announce. A `RoleError` becomes an error message. Every
    answer goes back to the settings page; a GET (the return from re-authentication) lands there
    without changing anything.
    """

    def decorator(
        change: Callable[Concatenate[AuthenticatedRequest, Project, P], str | None],
    ) -> Callable[..., HttpResponse]:
        @protected(Need.SECOND_FACTOR, Need.FRESH_AUTH)
        @require_http_methods(["GET", "POST"])
        @wraps(change)
        def view(
            request: AuthenticatedRequest, name: str, *args: P.args, **kwargs: P.kwargs
        ) -> HttpResponse:
            project = _owned_project(request, name, action)
            if request.method == "POST":
                try:
                    success = change(request, project, *args, **kwargs)
                except RoleError as error:
                    messages.error(request, error.message)
                else:
                    if success:
                        messages.success(request, success)
            return _back_to_settings(project)

        return view

    return decorator


@_owner_action("project:role:invite")
def invite(request: AuthenticatedRequest, project: Project) -> str | None:
    form = InviteCollaboratorForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a username and choose a role, then try again.")
        return None
    invitation = invite_collaborator(
        project=project,
        username=form.cleaned_data["username"],
        role=form.cleaned_data["role"],
        actor=request.user,
        request=request,
    )
    return (
        f"Invited {invitation.invitee.username} as {invitation.role}. They will get an "
        "email and can accept until the invitation expires."
    )


@_owner_action("project:role:revoke_invite")
def revoke(request: AuthenticatedRequest, project: Project, invitation_id: int) -> str | None:
    invitation = get_object_or_404(RoleInvitation, pk=invitation_id, project=project)
    revoke_invitation(invitation=invitation, actor=request.user, request=request)
    return f"Revoked the invitation of {invitation.invitee.username}."


@_owner_action("project:role:change")
def change(request: AuthenticatedRequest, project: Project, role_id: int) -> str | None:
    role = get_object_or_404(Role.objects.select_related("user"), pk=role_id, project=project)
    form = ChangeRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role: Owner or Maintainer.")
        return None
    role = change_role(
        role=role, new_role=form.cleaned_data["role"], actor=request.user, request=request
    )
    return f"{role.user.username} is now {role.role}."


@_owner_action("project:role:remove")
def remove(request: AuthenticatedRequest, project: Project, role_id: int) -> str | None:
    role = get_object_or_404(Role.objects.select_related("user"), pk=role_id, project=project)
    remove_role(role=role, actor=request.user, request=request)
    return f"Removed {role.user.username} from {project.name}."


@_owner_action("project:trusted_publishing_only:change")
def trusted_publishing_only(request: AuthenticatedRequest, project: Project) -> str | None:
    form = TrustedPublishingOnlyForm(request.POST)
    form.is_valid()  # An unchecked box is simply "off".
    enabled = bool(form.cleaned_data.get("enabled"))
    if not set_trusted_publishing_only(
        project=project, enabled=enabled, actor=request.user, request=request
    ):
        return None
    return (
        "Uploads now need trusted publishing; API tokens are refused."
        if enabled
        else "Uploads with API tokens are allowed again."
    )


@protected(Need.SECOND_FACTOR, Need.FRESH_AUTH)
@require_http_methods(["GET", "POST"])
def leave(request: AuthenticatedRequest, name: str) -> HttpResponse:
    """Give up one's own role on the project (the last owner cannot)."""
    project = _project(name)
    if request.method == "POST":
        role = get_object_or_404(Role, project=project, user=request.user)
        try:
            remove_role(role=role, actor=request.user, request=request)
        except RoleError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"You left {project.name}.")
    return redirect("projects:mine")


@protected(Need.SECOND_FACTOR)
@require_safe
def invitation_from_link(request: AuthenticatedRequest, token: str) -> HttpResponse:
    """The page an invitation email links to: shows the invitation with accept and decline."""
    payload = read_invitation_token(token)
    invitation = None
    error = None
    if payload is None:
        error = (
            "This invitation link is invalid or has expired. Ask the project's owners to "
            "invite you again."
        )
    elif payload.get("invitee") != request.user.pk:
        error = (
            "This invitation is for a different account. Log out and log in as the invited "
            "user to answer it."
        )
    else:
        invitation = (
            pending_invitations_for_user(request.user)
            .filter(pk=payload.get("invitation", 0))
            .first()
        )
        if invitation is None:
            error = (
                "This invitation no longer exists: it was answered, revoked or has expired. "
                "Ask the project's owners to invite you again if you still need access."
            )
    status = 200 if invitation is not None else 404
    return render(
        request,
        "projects/invitation.html",
        {"invitation": invitation, "error": error},
        status=status,
    )


def _invitation_for(request: AuthenticatedRequest, invitation_id: int) -> RoleInvitation:
    return get_object_or_404(
        RoleInvitation.objects.select_related("project"), pk=invitation_id, invitee=request.user
    )


@protected(Need.SECOND_FACTOR)
@require_POST
def accept(request: AuthenticatedRequest, invitation_id: int) -> HttpResponse:
    invitation = _invitation_for(request, invitation_id)
    if two_factor_missing(request.user, project=invitation.project):
        messages.warning(request, TWO_FACTOR_REQUIRED_MESSAGE)
        return two_factor_setup_redirect(request, next_url=where_the_request_was_going(request))
    try:
        role = accept_invitation(invitation=invitation, user=request.user, request=request)
    except RoleError as error:
        messages.error(request, error.message)
        return redirect("projects:mine")
    messages.success(request, f"You are now {role.role} of {invitation.project.name}.")
    return redirect("projects:detail", name=invitation.project.normalized_name)


@protected(Need.SECOND_FACTOR)
@require_POST
def decline(request: AuthenticatedRequest, invitation_id: int) -> HttpResponse:
    invitation = _invitation_for(request, invitation_id)
    try:
        decline_invitation(invitation=invitation, user=request.user, request=request)
    except RoleError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"You declined the invitation to {invitation.project.name}.")
    return redirect("projects:mine")

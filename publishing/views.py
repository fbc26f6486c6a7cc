"""Pages for managing trusted publishers: on a project (owners) and pending ones (account)."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from django_ratelimit.decorators import ratelimit
from django_ratelimit.exceptions import Ratelimited

from accounts.http import AuthenticatedRequest
from accounts.protection import Need, protected
from index_site.single_values import single_query_value
from index_site.views import ratelimited
from projects.exceptions import ProjectNameError
from projects.models import Project
from projects.permissions import owned_project_or_denied
from publishing import pending as pending_services
from publishing import services
from publishing.forms import PENDING_FORMS, PROJECT_FORMS
from publishing.models import PendingPublisher, Provider
from publishing.publisher_errors import PublisherError
from publishing.selectors import (
    pending_publishers_for_user,
    publisher_setup_warning,
    publishers_for_project,
)


def _registration_rate(group: str, request: HttpRequest) -> str:
    return settings.PUBLISHER_REGISTRATION_RATE_LIMIT


def _registration_ratelimits(view):
    """Count publisher registrations per user and per IP; the view checks `request.limited`."""
    for key in ("ip", "user"):
        view = ratelimit(
            key=key,
            rate=_registration_rate,
            method="POST",
            group="publishing:register",
            block=False,
        )(view)
    return view


def _owned_project(request: AuthenticatedRequest, name: str, action: str) -> Project:
    """The project, if the user owns it; otherwise `authz:denied` is recorded and 403."""
    return owned_project_or_denied(
        name=name,
        user=request.user,
        action=action,
        request=request,
        message="Only the project's owners can manage its trusted publishers.",
    )


def _selected_provider(request: HttpRequest) -> str:
    provider = (
        single_query_value(request.POST, "provider")
        or single_query_value(request.GET, "provider")
        or Provider.GITHUB
    )
    return provider if provider in Provider.values else Provider.GITHUB


def _prefill(request: HttpRequest, form_class) -> dict[str, str]:
    """Initial values from the query string (links such as ?provider=github&owner=acme)."""
    return {
        name: request.GET[name][:255]
        for name in form_class.base_fields
        if name in request.GET and name != "issuer"
    }


def _submitted_form(request: HttpRequest, registry, selected: str):
    """The selected provider's form bound to the POST data; None for a GET."""
    if request.method != "POST":
        return None
    return registry[selected](request.POST, prefix=selected)


def _render_with_forms(
    request: HttpRequest, template: str, context: dict, *, registry, selected: str, bound
) -> HttpResponse:
    """Render a page with one registration form per provider; 400 after a refused submission."""
    return render(
        request,
        template,
        {
            **context,
            "forms": _forms(request, registry, selected, bound),
            "selected": selected,
            "setup_warning": publisher_setup_warning(provider=selected),
        },
        status=400 if bound is not None else 200,
    )


def _forms(request: HttpRequest, registry, selected: str, bound=None) -> list:
    forms = []
    for provider, form_class in registry.items():
        if bound is not None and provider == selected:
            form = bound
        else:
            initial = _prefill(request, form_class) if provider == selected else {}
            form = form_class(initial=initial, prefix=provider)
        forms.append((Provider(provider), form))
    return forms


@protected(Need.SECOND_FACTOR, Need.FRESH_AUTH)
@require_http_methods(["GET", "POST"])
@_registration_ratelimits
def project_publishing(request: AuthenticatedRequest, name: str) -> HttpResponse:
    action = "project:publisher:add" if request.method == "POST" else "project:publisher:view"
    project = _owned_project(request, name, action)
    if getattr(request, "limited", False):
        return ratelimited(request, Ratelimited())
    selected = _selected_provider(request)
    bound = _submitted_form(request, PROJECT_FORMS, selected)
    if bound is not None and bound.is_valid():
        try:
            publisher = services.add_publisher_to_project(
                project=project, config=bound.config(), actor=request.user, request=request
            )
        except PublisherError as exc:
            bound.add_error(None, exc.message)
        else:
            messages.success(request, f"Added {publisher.display_name} as a trusted publisher.")
            return redirect("publishing:project", name=project.name)
    return _render_with_forms(
        request,
        "publishing/project.html",
        {"project": project, "publishers": publishers_for_project(project)},
        registry=PROJECT_FORMS,
        selected=selected,
        bound=bound,
    )


@protected(Need.SECOND_FACTOR, Need.FRESH_AUTH)
@require_POST
def remove_project_publisher(
    request: AuthenticatedRequest, name: str, publisher_id: int
) -> HttpResponse:
    project = _owned_project(request, name, "project:publisher:remove")
    publisher = get_object_or_404(publishers_for_project(project), pk=publisher_id)
    services.remove_publisher_from_project(
        project=project, publisher=publisher, actor=request.user, request=request
    )
    messages.success(
        request,
        f"Removed {publisher.display_name}. Its upload tokens were revoked at once.",
    )
    return redirect("publishing:project", name=project.name)


@protected(Need.SECOND_FACTOR, Need.FRESH_AUTH)
@require_http_methods(["GET", "POST"])
@_registration_ratelimits
def account_publishing(request: AuthenticatedRequest) -> HttpResponse:
    if getattr(request, "limited", False):
        return ratelimited(request, Ratelimited())
    selected = _selected_provider(request)
    bound = _submitted_form(request, PENDING_FORMS, selected)
    if bound is not None and bound.is_valid():
        try:
            pending = pending_services.register_pending_publisher(
                user=request.user,
                project_name=bound.cleaned_data["project_name"].strip(),
                config=bound.config(),
                request=request,
            )
        except (PublisherError, ProjectNameError) as exc:
            bound.add_error(None, exc.message)
        else:
            messages.success(
                request,
                f"Registered a pending publisher for {pending.project_name}. Its first "
                f"publish creates the project; it expires in "
                f"{settings.PENDING_PUBLISHER_LIFETIME.days} days if unused.",
            )
            return redirect("publishing:account")
    return _render_with_forms(
        request,
        "publishing/account.html",
        {
            "pending_publishers": pending_publishers_for_user(request.user),
            "limit": settings.PENDING_PUBLISHERS_PER_USER,
            "lifetime_days": settings.PENDING_PUBLISHER_LIFETIME.days,
        },
        registry=PENDING_FORMS,
        selected=selected,
        bound=bound,
    )


@protected(Need.SECOND_FACTOR, Need.FRESH_AUTH)
@require_POST
def remove_pending_publisher(request: AuthenticatedRequest, pending_id: int) -> HttpResponse:
    pending = get_object_or_404(PendingPublisher, pk=pending_id, added_by=request.user)
    pending_services.remove_pending_publisher(pending=pending, actor=request.user, request=request)
    messages.success(request, f"Removed the pending publisher for {pending.project_name}.")
    return redirect("publishing:account")

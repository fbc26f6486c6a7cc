from typing import cast

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET

from auditlog.history import export_response, history_context
from auditlog.selectors import events_for_user
from auditlog.services import record_history_visit


@login_required
@require_GET
def security_history(request: HttpRequest) -> HttpResponse:
    """The logged-in user's own events, newest first, filtered and paged by event id.

    Looking at the history resets the account page's "events need a look" count.
    """
    response = render(
        request,
        "auditlog/security_history.html",
        history_context(request, events_for_user(request.user)),
    )
    record_history_visit(cast(int, request.user.pk))  # login_required: a user's id
    return response


@login_required
@require_GET
def security_history_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """The user's own events of the filtered view, as JSON Lines or CSV."""
    return export_response(
        request, events_for_user(request.user), filename="security-history", fmt=fmt
    )

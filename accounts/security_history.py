"""The user's own security history: their audit events, filtered, paged and exported.

A page of accounts (it needs a login), over auditlog's selectors and history helpers: auditlog
itself imports no app, so it cannot know who is logged in.
"""

from typing import cast

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.protection import Need, protected
from auditlog.history import export_response, history_context
from auditlog.selectors import events_for_user
from auditlog.services import record_history_visit


@protected(Need.LOGIN)
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
    record_history_visit(cast(int, request.user.pk))  # protected: a user's id
    return response


@protected(Need.LOGIN)
@require_GET
def security_history_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """The user's own events of the filtered view, as JSON Lines or CSV."""
    return export_response(
        request, events_for_user(request.user), filename="security-history", fmt=fmt
    )

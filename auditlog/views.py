from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from auditlog.selectors import events_for_user
from index_site.single_values import single_query_value

EVENTS_PER_PAGE = 25


@login_required
@require_GET
def security_history(request: HttpRequest) -> HttpResponse:
    """The logged-in user's own events, newest first, paginated."""
    page = Paginator(events_for_user(request.user), EVENTS_PER_PAGE).get_page(
        single_query_value(request.GET, "page")
    )
    return render(request, "auditlog/security_history.html", {"page": page})

"""Site-wide pages: home, help, and the error pages (health checks are in index_site.api)."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.views.decorators.http import require_GET

from index_site.errors import UserFacingError
from index_site.outages import answer_current_outage


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


@require_GET
def help_page(request: HttpRequest) -> HttpResponse:
    """Publishing help; API error messages and emails link to its sections by anchor."""
    context = {
        "critical_top_percent": f"{settings.CRITICAL_PROJECTS_TOP_PERCENT:g}",
        "critical_window_days": settings.CRITICAL_PROJECTS_WINDOW_DAYS,
        "critical_min_downloads": settings.CRITICAL_PROJECTS_MIN_DOWNLOADS,
        "critical_policy": settings.TWO_FACTOR_POLICY == "critical",
    }
    return render(request, "help.html", context)


def ratelimited(request: HttpRequest, exception: Exception) -> HttpResponse:
    """django-ratelimit's view for a tripped limit: 429 with Retry-After."""
    response = render(
        request,
        "429.html",
        {"message": "Too many attempts. Wait a few minutes and try again."},
        status=429,
    )
    response["Retry-After"] = "300"
    return response


CSRF_FAILURE_MESSAGE = (
    "This form has expired or was sent from another site. Go back, reload the page and try again."
)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """400: the exception's text is not shown (it may come from Django's internals), except a
    UserFacingError's (a repeated or unstorable field), written for the person who sent it."""
    message = exception.message if isinstance(exception, UserFacingError) else ""
    return render(request, "400.html", {"message": message}, status=400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """403: show the reason a view gave in `PermissionDenied("...")`, written for users."""
    message = exception.args[0] if exception.args and isinstance(exception.args[0], str) else ""
    return render(request, "403.html", {"message": message}, status=403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404: one generic page, so a missing private page looks like one that never existed."""
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """500: a self-contained page rendered without context, so a broken database cannot break it.

    A dependency outage raised outside a view (by middleware saving the session, say) reaches
    this handler too, and gets the outage's 503 instead.
    """
    outage = answer_current_outage(request)
    if outage is not None:
        return outage
    return HttpResponseServerError(loader.get_template("500.html").render())


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: the friendly 403 page; the technical reason goes only to the log."""
    return render(request, "403.html", {"message": CSRF_FAILURE_MESSAGE}, status=403)

"""A URLconf for the error-page tests: the site's own patterns plus views that fail on purpose."""

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.urls import path

from index_site.urls import handler400, handler403, handler404, handler500, urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied("Only owners of this project can change its settings.")


def suspicious(request: HttpRequest) -> HttpResponse:
    raise SuspiciousOperation("internal detail: tampered signature abc123")


def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("internal detail: the view crashed")


urlpatterns = [
    path("test-errors/forbidden", forbidden),
    path("test-errors/suspicious", suspicious),
    path("test-errors/broken", broken),
    *urlpatterns,
]

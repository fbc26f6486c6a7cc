"""The install path without the session machinery: pages that read no session, user or cookie.

Simple pages, JSON API documents and file downloads are what installers ask for thousands of
times a minute, and they answer the same to everyone. A view marked `@stateless` promises to
read nothing of the person asking (no `request.user`, session, message or cookie); a safe
request (GET, HEAD, OPTIONS) for it skips the session, CSRF, authentication, known-device and
message middleware (`settings.STATELESS_MIDDLEWARE` is MIDDLEWARE without them) and keeps all
else: the request id, the 503 answer to an outage, the dead-connection retry, the Host check
and every security header. Measured on a cached simple page's 304: a fifth of its time
in-process. A request with another method goes through the whole chain (CSRF included).

The decision is made on the resolved view, never on a path prefix. The chain for stateless
views reuses the match; any other safe request is resolved a second time by Django (about
0.05 ms, on pages that cost ten times more).
"""

from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.handlers.base import BaseHandler
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, ResolverMatch, resolve

from index_site.fresh_connection import SAFE_METHODS

View = TypeVar("View", bound=Callable[..., object])


def stateless(view: View) -> View:
    """Mark a view function or class as reading nothing of the person asking."""
    view.stateless = True  # type: ignore[attr-defined]
    return view


def is_stateless(view: Callable[..., object]) -> bool:
    """Whether the view (a function, or a class's `as_view()`) is marked `@stateless`."""
    return getattr(getattr(view, "view_class", view), "stateless", False) is True


class _StatelessHandler(BaseHandler):
    """Django's request handling, through STATELESS_MIDDLEWARE, for a request already resolved."""

    def __init__(self) -> None:
        super().__init__()
        # BaseHandler builds its chain from settings.MIDDLEWARE, read once here, at start-up.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.STATELESS_MIDDLEWARE
        try:
            self.load_middleware()
        finally:
            settings.MIDDLEWARE = full

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        # Resolved by StatelessViewMiddleware, the only caller.
        return request.resolver_match  # type: ignore[return-value]


class StatelessViewMiddleware:
    """First in MIDDLEWARE: a safe request for a `@stateless` view takes the shorter chain."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.stateless_handler = _StatelessHandler()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in SAFE_METHODS:
            try:
                match = resolve(request.path_info)
            except Resolver404:
                match = None
            if match is not None and is_stateless(match.func):
                request.resolver_match = match
                return self.stateless_handler.get_response(request)  # type: ignore[return-value]
        return self.get_response(request)

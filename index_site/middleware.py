"""Security headers Django does not set by itself, and the request context of log lines."""

import re
import uuid
from collections.abc import Callable

import structlog
from django.http import HttpRequest, HttpResponse

from index_site.client_ip import client_ip

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), "
    "publickey-credentials-get=(self), publickey-credentials-create=(self)"
)


class SecurityHeadersMiddleware:
    """Add a strict Content-Security-Policy and a Permissions-Policy to every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


# An incoming request id is kept only when it is plainly an id: a proxy's or load balancer's.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")


class RequestContextMiddleware:
    """Bind a request id and the client IP to every log line written while serving a request.

    The id is the proxy's `X-Request-ID` when that is a plain id, else a new one; it is echoed
    in the response, and left in the WSGI environ for gunicorn's access log line. The context
    stays bound until `request_finished`, since Django logs the response's status line after
    the middleware returned.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        ip = client_ip(request)
        request.META["gatehouse.request_id"] = request_id
        request.META["gatehouse.client_ip"] = ip
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id, client_ip=ip)
        response = self.get_response(request)
        response.headers["X-Request-ID"] = request_id
        return response


def clear_log_context(**_kwargs: object) -> None:
    """Connected to `request_finished`: nothing of one request is bound to the next lines."""
    structlog.contextvars.clear_contextvars()

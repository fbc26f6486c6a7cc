"""The client's IP address, honouring only the configured number of trusted proxy hops."""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """Return the address of the client that sent `request`.

    X-Forwarded-For is read from the right: each trusted proxy appends the address it saw, so
    only the last TRUSTED_PROXY_COUNT entries can be believed. Anything to their left was
    written by the client and may be forged.
    """
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "")


def client_ip_for_ratelimit(request: HttpRequest) -> str:
    """django-ratelimit's RATELIMIT_IP_META_KEY hook."""
    return client_ip(request)

"""The client's IP address, honouring only the configured number of trusted proxy hops."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """Return the address of the client that sent `request`.

    X-Forwarded-For is read from the right: each trusted proxy appends the address it saw, so
    only the last TRUSTED_PROXY_COUNT entries can be believed. Anything to their left was
    written by the client and may be forged. An entry that is not an IP address (a
    misconfigured proxy count lets the client write it) is ignored for REMOTE_ADDR: it would
    break the audit log's address column and let rotating junk escape the IP rate limits.
    """
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= hops:
            address = _valid_ip(forwarded[-hops])
            if address:
                return address
    return _valid_ip(request.META.get("REMOTE_ADDR", ""))


def _valid_ip(value: str) -> str:
    """`value` in canonical form if it is an IPv4 or IPv6 address, else "".

    An IPv6 zone ("fe80::1%eth0") is refused too: PostgreSQL's inet type does not take one.
    """
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return ""
    if getattr(address, "scope_id", None):
        return ""
    return str(address)


def client_ip_for_ratelimit(request: HttpRequest) -> str:
    """django-ratelimit's RATELIMIT_IP_META_KEY hook."""
    return client_ip(request)

"""System checks for the site settings: a set-up that cannot work is reported at start."""

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Warning, register  # noqa: A004 - Django's check type

SITE_URL_IP_WARNING = (
    "SITE_URL {url} names an IP address: browsers refuse security keys and passkeys on an IP "
    "address; use a host name such as localhost."
)


@register()
def check_site_url(app_configs, **kwargs) -> list[Warning]:
    """Warn when SITE_URL's host is an IP address, where WebAuthn ceremonies always fail.

    The WebAuthn RP ID is SITE_URL's host, and browsers accept only a domain as an RP ID.
    """
    host = urlsplit(settings.SITE_URL).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return []
    return [
        Warning(
            SITE_URL_IP_WARNING.format(url=settings.SITE_URL),
            hint="For a local site set SITE_URL=http://localhost:8000.",
            id="index_site.W001",
        )
    ]

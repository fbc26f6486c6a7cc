"""Absolute links, for emails and API messages read outside the site: SITE_URL + a URL name."""

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse


def absolute_url(
    viewname: str, *args: Any, query: dict[str, str] | None = None, **kwargs: Any
) -> str:
    """SITE_URL + reverse(viewname, args, kwargs), with `query` appended as a query string."""
    url = settings.SITE_URL + reverse(viewname, args=args or None, kwargs=kwargs or None)
    if query:
        url += "?" + urlencode(query)
    return url

"""Conditional GET for the index's pages and files: one ETag rule for every response.

Simple pages carry the hash of their body and files the hash of their bytes, so a client that
already holds the same ETag gets 304 Not Modified. Django's parser of conditional headers does
the matching (several tags, weak `W/` tags, `*`), so every view answers the same way.
"""

from collections.abc import Callable

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.cache import get_conditional_response


def respond_with_etag(
    request: HttpRequest,
    *,
    etag: str,
    cache_control: str,
    build: Callable[[], HttpResponseBase],
) -> HttpResponseBase:
    """`build()`'s response, or 304 when the request's If-None-Match matches `etag`.

    `etag` is a quoted strong tag (`"<hex>"`). `build` is not called for a 304, so a file is not
    opened for a client that has it already. Both answers carry the ETag and Cache-Control.
    """
    response = get_conditional_response(request, etag=etag) or build()
    response["ETag"] = etag
    response["Cache-Control"] = cache_control
    return response

"""Headers every answer of the install path carries (simple API and JSON API), as PyPI sends them.

CORS lets a web page on any origin read the public index (documentation sites, dependency
dashboards); nothing here is behind a cookie, so `*` exposes nothing a plain GET would not.
`X-PyPI-Last-Serial` is the project's serial, the same number as `meta._last-serial` and the
JSON API's `last_serial`: it grows with every change the index shows.
"""

from typing import TypeVar

from django.http.response import HttpResponseBase

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET",
    "Access-Control-Expose-Headers": "X-PyPI-Last-Serial",
    "Access-Control-Max-Age": "86400",
}
SERIAL_HEADER = "X-PyPI-Last-Serial"

Response = TypeVar("Response", bound=HttpResponseBase)


def add_index_headers(response: Response, *, serial: int | None = None) -> Response:
    """Add CORS and, when the answer is about one project, its serial; return `response`."""
    for name, value in CORS_HEADERS.items():
        response[name] = value
    if serial is not None:
        response[SERIAL_HEADER] = str(serial)
    return response

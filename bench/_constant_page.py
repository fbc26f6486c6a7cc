"""The reference for bench.simple_index: a WSGI app answering with a constant page.

It serves the bytes Gatehouse served for the same request (saved by the benchmark under
CONSTANT_PAGE_DIR as html, json and api), picked by the path (the JSON API) or the Accept
header, and 304 for a matching If-None-Match: what a server does that has nothing to look up,
under the same gunicorn.
"""

import os
from pathlib import Path

_DIR = Path(os.environ["CONSTANT_PAGE_DIR"])
_PAGES = {
    "json": (_DIR.joinpath("json").read_bytes(), "application/vnd.pypi.simple.v1+json"),
    "html": (_DIR.joinpath("html").read_bytes(), "text/html; charset=utf-8"),
    "api": (_DIR.joinpath("api").read_bytes(), "application/json"),
}
_ETAG = '"constant"'


def application(environ, start_response):
    if environ.get("PATH_INFO", "").startswith("/pypi/"):
        kind = "api"
    else:
        kind = "json" if "json" in environ.get("HTTP_ACCEPT", "") else "html"
    body, content_type = _PAGES[kind]
    headers = [("ETag", _ETAG), ("Cache-Control", "max-age=0, must-revalidate")]
    if environ.get("HTTP_IF_NONE_MATCH") == _ETAG:
        start_response("304 Not Modified", headers)
        return [b""]
    headers += [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    start_response("200 OK", headers)
    return [body]

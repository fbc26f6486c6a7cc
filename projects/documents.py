"""The install path's documents, rendered once per change: simple pages and the JSON API.

A project's document (its simple page in one format, its JSON API answer) is rendered once per
(project, serial, kind) and kept in the shared cache: the serial changes in the same COMMIT as
every change the index shows (`bump_serial`), so a document cached under an older serial is
never asked for again, and web replicas sharing the cache agree without telling each other
anything. The ETag derives from the serial too, so a conditional request reads one project row
and answers 304 without touching the file list.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from projects.conditional import respond_with_etag
from projects.index_headers import add_index_headers
from projects.models import Project

# Clients and CDNs keep the document but revalidate it on every use, so a fresh upload or a yank
# is visible at once; revalidation costs one indexed row read (README: "Running behind a CDN").
INDEX_CACHE_CONTROL = "max-age=0, must-revalidate"
# Change it whenever a document's shape changes (templates, JSON keys): it is part of the
# cache key and the ETag, so documents rendered by an older release are neither served nor 304'd.
DOCUMENT_VERSION = 3
# Documents of superseded serials are never read again; this only bounds how long they linger.
DOCUMENT_CACHE_SECONDS = 24 * 60 * 60
# Bytes of documents each process also keeps itself (see _RecentDocuments).
LOCAL_DOCUMENTS_BYTES = 16 * 1024 * 1024


def document_identity(project: Project, kind: str) -> str:
    """What names one rendering of a project's document: the key of its copy and its ETag.

    `kind` names the document (`json`, `html`, `pypi-json-1.0`, ...): ASCII without quotes.
    The id and creation time besides the serial: a project removed and created again, or a
    database recreated (a staging reset), starts its serial afresh, and must not be answered
    with documents of the project that was there before.
    """
    created = int(project.created_at.timestamp() * 1_000_000)
    return f"{project.pk}.{created}.{project.serial}.{kind}.{DOCUMENT_VERSION}"


class _RecentDocuments:
    """The documents this process served last, up to a total size, newest kept.

    A key names one rendering that never changes (a change makes a new serial, hence a new
    key), so a copy kept here can never be stale and needs no coordination between processes:
    it only saves fetching half a megabyte from Redis for every request of a popular project
    (measured: about half the time of a cached answer).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._documents: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            body = self._documents.get(key)
            if body is not None:
                self._documents.move_to_end(key)
            return body

    def put(self, key: str, body: bytes) -> None:
        if len(body) > self.max_bytes:
            return
        with self._lock:
            if key in self._documents:
                return
            self._documents[key] = body
            self._size += len(body)
            while self._size > self.max_bytes:
                _oldest, dropped = self._documents.popitem(last=False)
                self._size -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._documents.clear()
            self._size = 0


recent_documents = _RecentDocuments(LOCAL_DOCUMENTS_BYTES)


def cached_document(project: Project, kind: str, render: Callable[[], bytes]) -> bytes:
    """The document of `project` at its serial: kept here, cached, or rendered and cached.

    `render` reads the rows after the serial was read: a change that commits in between is
    already in the rows, so a document cached under a serial never holds less than that
    serial's changes. An exception from `render` propagates and nothing is cached.
    """
    key = f"document:{document_identity(project, kind)}"
    body = recent_documents.get(key)
    if body is not None:
        return body
    body = cache.get(key)
    if body is None:
        body = render()
        cache.set(key, body, DOCUMENT_CACHE_SECONDS)
    recent_documents.put(key, body)
    return body


def respond_with_document(
    request: HttpRequest,
    project: Project,
    *,
    kind: str,
    content_type: str,
    render: Callable[[], bytes],
) -> HttpResponseBase:
    """200 with the project's `kind` document, or 304 when the client holds its ETag.

    Both answers carry the ETag, Cache-Control, the serial (`X-PyPI-Last-Serial`), CORS, and
    `Surrogate-Key: project-<id>`, which lets a CDN that supports tag purges (Fastly's
    Surrogate-Key, Cloudflare's Cache-Tag by mapping) drop every document of one project at once.
    """
    response = respond_with_etag(
        request,
        etag=f'"{document_identity(project, kind)}"',
        cache_control=INDEX_CACHE_CONTROL,
        build=lambda: HttpResponse(
            cached_document(project, kind, render), content_type=content_type
        ),
    )
    response["Surrogate-Key"] = f"project-{project.pk}"
    return add_index_headers(response, serial=project.serial)

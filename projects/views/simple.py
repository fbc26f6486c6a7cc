"""The simple repository API: PEP 503 HTML and PEP 691 JSON, chosen by the Accept header.

Every file carries its sha256 (pip verifies it, `uv --check-url` needs it).

A project's page is rendered once per (project, serial, format) and kept in the shared cache:
the serial changes in the same COMMIT as every change the index shows (`bump_serial`), so a
page cached under an older serial is never asked for again, and web replicas sharing the cache
agree without telling each other anything. The ETag derives from the serial too, so a
conditional request reads one project row and answers 304 without touching the file list.
"""

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_safe

from index_site.single_values import single_query_value
from projects.conditional import respond_with_etag
from projects.models import Project, Release
from projects.names import normalize_project_name
from projects.negotiation import HTML_V1, JSON_V1, TEXT_HTML, choose_simple_content_type
from projects.selectors import files_for_project, project_names

# 1.4: PEP 700's versions, size and upload-time, and PEP 792's project status.
API_VERSION = "1.4"
# Clients and CDNs keep the page but revalidate it on every use, so a fresh upload is visible
# to pip at once; revalidation costs one indexed row read here (README: "Running behind a CDN").
SIMPLE_CACHE_CONTROL = "max-age=0, must-revalidate"
# Change it whenever the documents' shape changes (templates, JSON keys): it is part of the
# cache key and the ETag, so pages rendered by an older release are neither served nor 304'd.
DOCUMENT_VERSION = 2
# Pages of superseded serials are never read again; this only bounds how long they linger.
DOCUMENT_CACHE_SECONDS = 24 * 60 * 60
FORMAT_TAGS = {JSON_V1: "json", HTML_V1: "html-v1", TEXT_HTML: "html"}
# Bytes of documents each process also keeps itself (see _RecentDocuments).
LOCAL_DOCUMENTS_BYTES = 16 * 1024 * 1024
NOT_ACCEPTABLE_MESSAGE = (
    "None of the media types in your Accept header is served here. Ask for "
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html or text/html."
)


def _negotiate(request: HttpRequest) -> str | None:
    return choose_simple_content_type(
        request.headers.get("Accept"), single_query_value(request.GET, "format") or None
    )


def _http_content_type(content_type: str) -> str:
    return "text/html; charset=utf-8" if content_type == TEXT_HTML else content_type


def _respond(request: HttpRequest, content: str, content_type: str) -> HttpResponseBase:
    body = content.encode()
    response = respond_with_etag(
        request,
        etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"',
        cache_control=SIMPLE_CACHE_CONTROL,
        build=lambda: HttpResponse(body, content_type=_http_content_type(content_type)),
    )
    patch_vary_headers(response, ["Accept"])
    return response


def _not_acceptable() -> HttpResponse:
    response = HttpResponse(NOT_ACCEPTABLE_MESSAGE, status=406, content_type="text/plain")
    patch_vary_headers(response, ["Accept"])
    return response


@require_safe
def simple_index(request: HttpRequest) -> HttpResponseBase:
    """Every project, as `/simple/<normalized name>/` links (HTML) or a `projects` list (JSON)."""
    content_type = _negotiate(request)
    if content_type is None:
        return _not_acceptable()
    projects = list(project_names().values_list("name", "normalized_name"))
    if content_type == JSON_V1:
        content = json.dumps(
            {
                "meta": {"api-version": API_VERSION},
                "projects": [{"name": name} for name, _normalized in projects],
            }
        )
    else:
        content = render_to_string(
            "projects/simple/index.html",
            {"projects": projects, "api_version": API_VERSION},
            request=request,
        )
    return _respond(request, content, content_type)


def _file_entries(project: Project) -> list[dict[str, Any]]:
    """The project's files as the templates and the JSON need them (one query)."""
    return [
        {
            "filename": file["filename"],
            "url": reverse("projects:file", kwargs={"path": file["path"]}),
            "sha256": file["sha256_digest"],
            "requires_python": file["effective_requires_python"] or "",
            "metadata_sha256": file["metadata_sha256_digest"],
            "size": file["size"],
            "upload_time": file["uploaded_at"].isoformat().replace("+00:00", "Z"),
            "yanked": file["release__yanked"],
            "yanked_reason": file["release__yanked_reason"],
        }
        for file in files_for_project(project)
    ]


def _json_file(entry: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, str] | bool = (
        {"sha256": entry["metadata_sha256"]} if entry["metadata_sha256"] else False
    )
    return {
        "filename": entry["filename"],
        "url": entry["url"],
        "hashes": {"sha256": entry["sha256"]},
        "requires-python": entry["requires_python"] or None,
        # PEP 714 renamed the key; both are sent for clients that predate it.
        "core-metadata": metadata,
        "dist-info-metadata": metadata,
        "size": entry["size"],
        "upload-time": entry["upload_time"],
        # PEP 592: the reason, or true when none was given (pip reads "" as not yanked).
        "yanked": (entry["yanked_reason"] or True) if entry["yanked"] else False,
    }


def _json_status(project: Project) -> dict[str, str]:
    """PEP 792's `project-status`, always sent (also for active projects, as PyPI does)."""
    status = {"status": project.status}
    if project.status_reason:
        status["reason"] = project.status_reason
    return status


def _render_project(project: Project, content_type: str) -> bytes:
    """The project's document in `content_type`, from the rows as they are now (two queries).

    Read after the serial: a change that commits in between is already in the rows, so a
    document cached under a serial never holds less than that serial's changes.
    """
    files = _file_entries(project)
    versions = sorted(
        set(Release.objects.offered().filter(project=project).values_list("version", flat=True))
    )
    if content_type == JSON_V1:
        content = json.dumps(
            {
                "meta": {"api-version": API_VERSION},
                "name": project.normalized_name,
                "project-status": _json_status(project),
                "versions": versions,
                "files": [_json_file(entry) for entry in files],
            }
        )
    else:
        content = render_to_string(
            "projects/simple/project.html",
            {"project": project, "files": files, "api_version": API_VERSION},
        )
    return content.encode()


def _document_identity(project: Project, content_type: str) -> str:
    """What names one rendering of the project's page: the key of its copy and its ETag.

    The id and creation time besides the serial: a project removed and created again, or a
    database recreated (a staging reset), starts its serial afresh, and must not be answered
    with pages of the project that was there before.
    """
    created = int(project.created_at.timestamp() * 1_000_000)
    return f"{project.pk}.{created}.{project.serial}.{FORMAT_TAGS[content_type]}.{DOCUMENT_VERSION}"


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


def _project_document(project: Project, content_type: str) -> bytes:
    """The document of `project` at its serial: kept here, cached, or rendered and cached."""
    key = f"simple:{_document_identity(project, content_type)}"
    body = recent_documents.get(key)
    if body is not None:
        return body
    body = cache.get(key)
    if body is None:
        body = _render_project(project, content_type)
        cache.set(key, body, DOCUMENT_CACHE_SECONDS)
    recent_documents.put(key, body)
    return body


@require_safe
def simple_project(request: HttpRequest, name: str) -> HttpResponseBase:
    """One project's files. A non-normalized name redirects (301) to the normalized URL."""
    normalized = normalize_project_name(name)
    if normalized != name:
        url = reverse("projects:simple_project", kwargs={"name": normalized})
        if request.META.get("QUERY_STRING"):
            url = f"{url}?{request.META['QUERY_STRING']}"
        return redirect(url, permanent=True)
    content_type = _negotiate(request)
    if content_type is None:
        return _not_acceptable()
    project = (
        Project.objects.filter(normalized_name=normalized)
        .only("normalized_name", "serial", "created_at", "status", "status_reason")
        .first()
    )
    if project is None:
        missing = HttpResponse(
            f"No project named {name!r} is on this index.", status=404, content_type="text/plain"
        )
        patch_vary_headers(missing, ["Accept"])
        return missing
    response = respond_with_etag(
        request,
        etag=f'"{_document_identity(project, content_type)}"',
        cache_control=SIMPLE_CACHE_CONTROL,
        build=lambda: HttpResponse(
            _project_document(project, content_type), content_type=_http_content_type(content_type)
        ),
    )
    # Lets a CDN that supports tag purges (Fastly's Surrogate-Key, Cloudflare's Cache-Tag
    # by mapping) drop every format of one project's page at once.
    response["Surrogate-Key"] = f"project-{project.pk}"
    patch_vary_headers(response, ["Accept"])
    return response

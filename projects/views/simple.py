"""The simple repository API: PEP 503 HTML and PEP 691 JSON, chosen by the Accept header.

Each page runs a fixed number of queries whatever the number of files, and every file carries
its sha256 (pip verifies it, `uv --check-url` needs it).
"""

import hashlib
import json
from typing import Any

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
from projects.negotiation import JSON_V1, TEXT_HTML, choose_simple_content_type
from projects.selectors import files_for_project, project_names

API_VERSION = "1.1"
# Short-lived caching, so a fresh upload is visible to pip at once; revalidation by ETag.
SIMPLE_CACHE_CONTROL = "max-age=0, must-revalidate"
NOT_ACCEPTABLE_MESSAGE = (
    "None of the media types in your Accept header is served here. Ask for "
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html or text/html."
)


def _negotiate(request: HttpRequest) -> str | None:
    return choose_simple_content_type(
        request.headers.get("Accept"), single_query_value(request.GET, "format") or None
    )


def _respond(request: HttpRequest, content: str, content_type: str) -> HttpResponseBase:
    body = content.encode()
    if content_type == TEXT_HTML:
        content_type = "text/html; charset=utf-8"
    response = respond_with_etag(
        request,
        etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"',
        cache_control=SIMPLE_CACHE_CONTROL,
        build=lambda: HttpResponse(body, content_type=content_type),
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
        "yanked": False,
    }


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
        Project.objects.filter(normalized_name=normalized).only("name", "normalized_name").first()
    )
    if project is None:
        response = HttpResponse(
            f"No project named {name!r} is on this index.", status=404, content_type="text/plain"
        )
        patch_vary_headers(response, ["Accept"])
        return response
    files = _file_entries(project)
    versions = sorted(
        set(Release.objects.filter(project=project).values_list("version", flat=True))
    )
    if content_type == JSON_V1:
        content = json.dumps(
            {
                "meta": {"api-version": API_VERSION},
                "name": project.normalized_name,
                "versions": versions,
                "files": [_json_file(entry) for entry in files],
            }
        )
    else:
        content = render_to_string(
            "projects/simple/project.html",
            {"project": project, "files": files, "api_version": API_VERSION},
            request=request,
        )
    return _respond(request, content, content_type)

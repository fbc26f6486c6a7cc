"""The simple repository API: PEP 503 HTML and PEP 691 JSON, chosen by the Accept header or
the `?format=` query (PEP 691's optional parameter: a served media type, which wins over Accept).

Every file carries its sha256 (pip verifies it, `uv --check-url` needs it). A project's page is
rendered once per (project, serial, format) and cached (projects.documents); every answer
carries CORS and, for a project, its serial (`X-PyPI-Last-Serial`, JSON `meta._last-serial`,
an `<!--SERIAL n-->` comment after the HTML), as PyPI's do.
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
from index_site.stateless import stateless
from projects.conditional import respond_with_etag
from projects.documents import INDEX_CACHE_CONTROL, respond_with_document
from projects.index_headers import add_index_headers
from projects.models import Project, Release
from projects.names import normalize_project_name
from projects.negotiation import (
    HTML_V1,
    JSON_V1,
    SERVED_TYPES,
    TEXT_HTML,
    choose_simple_content_type,
)
from projects.selectors import files_for_project, project_for_index, project_names

# 1.4: PEP 700's versions, size and upload-time, and PEP 792's project status.
API_VERSION = "1.4"
FORMAT_TAGS = {JSON_V1: "json", HTML_V1: "html-v1", TEXT_HTML: "html"}
NOT_ACCEPTABLE_MESSAGE = (
    "None of the media types in your Accept header is served here. Ask for "
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html or text/html."
)


def _format_not_served_message(format_param: str) -> str:
    return (
        f"The format {format_param!r} is not served here. Use ?format= with one of "
        f"{', '.join(SERVED_TYPES)}, or leave it out and send an Accept header."
    )


def _format_param(request: HttpRequest) -> str | None:
    return single_query_value(request.GET, "format") or None


def _negotiate(request: HttpRequest) -> str | None:
    return choose_simple_content_type(request.headers.get("Accept"), _format_param(request))


def _http_content_type(content_type: str) -> str:
    return "text/html; charset=utf-8" if content_type == TEXT_HTML else content_type


def _respond(request: HttpRequest, content: str, content_type: str) -> HttpResponseBase:
    body = content.encode()
    response = respond_with_etag(
        request,
        etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"',
        cache_control=INDEX_CACHE_CONTROL,
        build=lambda: HttpResponse(body, content_type=_http_content_type(content_type)),
    )
    patch_vary_headers(response, ["Accept"])
    return add_index_headers(response)


def _not_acceptable(request: HttpRequest) -> HttpResponse:
    format_param = _format_param(request)
    message = _format_not_served_message(format_param) if format_param else NOT_ACCEPTABLE_MESSAGE
    response = HttpResponse(message, status=406, content_type="text/plain")
    patch_vary_headers(response, ["Accept"])
    return add_index_headers(response)


@stateless
@require_safe
def simple_index(request: HttpRequest) -> HttpResponseBase:
    """Every project, as `/simple/<normalized name>/` links (HTML) or a `projects` list (JSON)."""
    content_type = _negotiate(request)
    if content_type is None:
        return _not_acceptable(request)
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
        # PEP 740 (api-version 1.3): no attestations are stored, so none is offered.
        "provenance": None,
    }


def _json_status(project: Project) -> dict[str, str]:
    """PEP 792's `project-status`, always sent (also for active projects, as PyPI does)."""
    status = {"status": project.status}
    if project.public_status_reason:
        status["reason"] = project.public_status_reason
    return status


def _render_project(project: Project, content_type: str) -> bytes:
    """The project's document in `content_type`, from the rows as they are now (two queries)."""
    files = _file_entries(project)
    versions = sorted(
        set(Release.objects.offered().filter(project=project).values_list("version", flat=True))
    )
    if content_type == JSON_V1:
        content = json.dumps(
            {
                # PEP 700 reserves keys starting with "_" for the index's own use.
                "meta": {"api-version": API_VERSION, "_last-serial": project.serial},
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


@stateless
@require_safe
def simple_project(request: HttpRequest, name: str) -> HttpResponseBase:
    """One project's files. A non-normalized name redirects (301) to the normalized URL."""
    normalized = normalize_project_name(name)
    if normalized != name:
        url = reverse("projects:simple_project", kwargs={"name": normalized})
        if request.META.get("QUERY_STRING"):
            url = f"{url}?{request.META['QUERY_STRING']}"
        return add_index_headers(redirect(url, permanent=True))
    content_type = _negotiate(request)
    if content_type is None:
        return _not_acceptable(request)
    project = project_for_index(normalized)
    if project is None:
        missing = HttpResponse(
            f"No project named {name!r} is on this index.", status=404, content_type="text/plain"
        )
        patch_vary_headers(missing, ["Accept"])
        return add_index_headers(missing)
    response = respond_with_document(
        request,
        project,
        kind=FORMAT_TAGS[content_type],
        content_type=_http_content_type(content_type),
        render=lambda: _render_project(project, content_type),
    )
    patch_vary_headers(response, ["Accept"])
    return response

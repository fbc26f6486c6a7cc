"""The JSON API: `GET /pypi/<name>/json` and `GET /pypi/<name>/<version>/json`, as PyPI serves them.

Public, like PyPI's: no authentication, read-only. Each answer is a document of the project
at its serial (projects.documents): rendered once per change, with an ETag from the serial, so
a client revalidating gets 304 after one row read. A missing project or release, a quarantined
project and a quarantined release all get the same 404 body, `{"message": "Not Found"}`, so the
API does not tell a hidden release from one that never existed. The `Accept` header is not
consulted: every answer is JSON, as on PyPI.
"""

from typing import Any

from django.http import HttpResponsePermanentRedirect
from django.http.response import HttpResponseBase
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from packaging.utils import canonicalize_version
from rest_framework.authentication import BaseAuthentication
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from index_site.json_api import JSONOnlyNegotiation, MessageSerializer
from index_site.stateless import stateless
from projects.documents import respond_with_document
from projects.index_headers import add_index_headers
from projects.models import Project
from projects.names import normalize_project_name
from projects.selectors import (
    files_for_project,
    offered_releases,
    project_for_index,
    release_with_metadata,
    roles_for_project,
)
from projects.serializers import ProjectJSONSerializer, ReleaseDocument, ReleaseJSONSerializer
from projects.versions import latest_release, parse_version, version_sort_key

NOT_FOUND = {"message": "Not Found"}
JSON_CONTENT_TYPE = "application/json"


class _NotOfferedError(Exception):
    """The project has no release installers may see (under that version)."""


def _render(serializer: ProjectJSONSerializer | ReleaseJSONSerializer) -> bytes:
    return JSONRenderer().render(serializer.data)


def _render_project(project: Project) -> bytes:
    """The project's document: the latest release's `info` and `urls`, every offered release's
    files in `releases` (five queries, whatever the number of files)."""
    releases = sorted(offered_releases(project), key=lambda r: version_sort_key(r.version))
    latest = latest_release(releases)
    if latest is None:
        raise _NotOfferedError
    release = release_with_metadata(project, canonical_version=latest.canonical_version)
    if release is None:  # quarantined since the list was read: the next serial will say so
        raise _NotOfferedError
    release.project = project
    files_by_version: dict[str, list[dict[str, Any]]] = {r.version: [] for r in releases}
    for file in files_for_project(project):
        files_by_version[file["release__version"]].append(file)
    document = ReleaseDocument(
        project=project,
        release=release,
        urls=files_by_version[release.version],
        roles=list(roles_for_project(project)),
        releases=files_by_version,
    )
    return _render(ProjectJSONSerializer(document))


def _render_release(project: Project, canonical_version: str) -> bytes:
    """One release's document (four queries)."""
    release = release_with_metadata(project, canonical_version=canonical_version)
    if release is None:
        raise _NotOfferedError
    release.project = project
    document = ReleaseDocument(
        project=project,
        release=release,
        urls=list(files_for_project(project, release=release)),
        roles=list(roles_for_project(project)),
    )
    return _render(ReleaseJSONSerializer(document))


def _documented(document: type[Serializer]) -> dict[int, Any]:
    """The answers of a JSON API route, as the OpenAPI schema lists them."""
    return {
        200: document,
        301: OpenApiResponse(description="The name is not normalized: the normalized URL."),
        304: OpenApiResponse(description="Unchanged since the ETag sent in If-None-Match."),
        404: OpenApiResponse(MessageSerializer, description="No such project or release."),
    }


@stateless
class _IndexJSONView(GenericAPIView):
    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes: list[type[BasePermission]] = []
    renderer_classes = [JSONRenderer]
    # JSON whatever the Accept header says (PyPI answers `Accept: text/html` with JSON too).
    content_negotiation_class = JSONOnlyNegotiation

    def finalize_response(
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        """Every answer carries CORS, the refusals (404, 405) and OPTIONS included."""
        return add_index_headers(super().finalize_response(request, response, *args, **kwargs))

    def not_found(self) -> Response:
        return Response(NOT_FOUND, status=404)

    def offered_project(self, normalized: str) -> Project | None:
        """The project, unless it is missing or quarantined (both: 404)."""
        project = project_for_index(normalized)
        if project is None or project.status == Project.Status.QUARANTINED:
            return None
        return project


class ProjectJSONView(_IndexJSONView):
    """`/pypi/<name>/json`: the project and its latest release (PyPI's choice of latest)."""

    serializer_class = ProjectJSONSerializer

    @extend_schema(operation_id="project_json", responses=_documented(ProjectJSONSerializer))
    def get(self, request: Request, name: str) -> HttpResponseBase:
        normalized = normalize_project_name(name)
        if normalized != name:
            url = reverse("projects:json_project", kwargs={"name": normalized})
            return HttpResponsePermanentRedirect(url)
        project = self.offered_project(normalized)
        if project is None:
            return self.not_found()
        try:
            return respond_with_document(
                request,
                project,
                kind="pypi-json",
                content_type=JSON_CONTENT_TYPE,
                render=lambda: _render_project(project),
            )
        except _NotOfferedError:
            return self.not_found()


class ReleaseJSONView(_IndexJSONView):
    """`/pypi/<name>/<version>/json`: one release, found by its canonical version (`1.0` and
    `1.0.0` are the same release)."""

    serializer_class = ReleaseJSONSerializer

    @extend_schema(operation_id="release_json", responses=_documented(ReleaseJSONSerializer))
    def get(self, request: Request, name: str, version: str) -> HttpResponseBase:
        normalized = normalize_project_name(name)
        if normalized != name:
            url = reverse("projects:json_release", kwargs={"name": normalized, "version": version})
            return HttpResponsePermanentRedirect(url)
        project = self.offered_project(normalized)
        parsed = parse_version(version)
        # Uploads only ever store valid versions: anything else names no release.
        if project is None or parsed is None:
            return self.not_found()
        canonical = canonicalize_version(parsed)
        try:
            return respond_with_document(
                request,
                project,
                kind=f"pypi-json-{canonical}",
                content_type=JSON_CONTENT_TYPE,
                render=lambda: _render_release(project, canonical),
            )
        except _NotOfferedError:
            return self.not_found()

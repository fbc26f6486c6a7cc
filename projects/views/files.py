"""File downloads: `/files/<File.path>` and the PEP 658 `<File.path>.metadata` beside it.

Only paths recorded on a File row are served, so a request can never name an arbitrary storage
object. Files are immutable (a filename can never be reused), so they are cached for a year.
"""

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_safe

from projects.conditional import respond_with_etag
from projects.models import File
from projects.services.downloads import record_download

METADATA_SUFFIX = ".metadata"
IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"


def _open(path: str):
    # Any other OSError is the storage failing, not the file missing: it answers 503
    # (index_site.outages), so pip retries instead of giving up on a 404.
    try:
        return default_storage.open(path, "rb")
    except FileNotFoundError:
        raise Http404("This file is not in storage.") from None


def _attachment(
    request: HttpRequest, *, storage_path: str, filename: str, etag: str
) -> HttpResponseBase:
    return respond_with_etag(
        request,
        etag=etag,
        cache_control=IMMUTABLE_CACHE_CONTROL,
        build=lambda: FileResponse(
            _open(storage_path),
            as_attachment=True,
            filename=filename,
            content_type="application/octet-stream",
        ),
    )


@require_safe
def download_file(request: HttpRequest, path: str) -> HttpResponseBase:
    """Serve a distribution file (counted as a download) or its core metadata (not counted)."""
    file = (
        File.objects.filter(path=path)
        .values("filename", "sha256_digest", "release__project_id")
        .first()
    )
    if file is not None:
        response = _attachment(
            request,
            storage_path=path,
            filename=file["filename"],
            etag=f'"{file["sha256_digest"]}"',
        )
        if request.method == "GET" and response.status_code == 200:
            record_download(project_id=file["release__project_id"])
        return response
    if path.endswith(METADATA_SUFFIX):
        file_path = path.removesuffix(METADATA_SUFFIX)
        metadata = (
            File.objects.filter(path=file_path)
            .exclude(metadata_sha256_digest="")
            .values("filename", "metadata_sha256_digest")
            .first()
        )
        if metadata is not None:
            return _attachment(
                request,
                storage_path=path,
                filename=f"{metadata['filename']}{METADATA_SUFFIX}",
                etag=f'"{metadata["metadata_sha256_digest"]}"',
            )
    raise Http404("No such file.")

"""File downloads: `/files/<File.path>` and the PEP 658 `<File.path>.metadata` beside it.

Only paths recorded on a File row are served, so a request can never name an arbitrary storage
object, and only files the index offers: a quarantined release's files answer the same 404 as a
path that never existed. Files are immutable (a filename can never be reused), so they are
cached for a year; a quarantine must therefore also purge a CDN in front (README).
"""

from functools import partial
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_safe

from index_site.stateless import stateless
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
    """The file itself, as FILE_DOWNLOADS says it leaves (settings): streamed by this worker,
    handed to the front proxy, or redirected to where the storage serves it."""
    if settings.FILE_DOWNLOADS == "redirect":
        return _redirect(storage_path)
    if settings.FILE_DOWNLOADS == "x-accel-redirect":
        build = partial(_handed_to_proxy, storage_path, filename)
    else:
        build = partial(_streamed, storage_path, filename)
    return respond_with_etag(request, etag=etag, cache_control=IMMUTABLE_CACHE_CONTROL, build=build)


def _streamed(storage_path: str, filename: str) -> HttpResponseBase:
    return FileResponse(
        _open(storage_path),
        as_attachment=True,
        filename=filename,
        content_type="application/octet-stream",
    )


def _handed_to_proxy(storage_path: str, filename: str) -> HttpResponseBase:
    """An empty answer whose X-Accel-Redirect has nginx send the file from its internal
    location: the worker is free again before the first byte of the file leaves."""
    response = HttpResponse(content_type="application/octet-stream")
    response["X-Accel-Redirect"] = settings.FILE_DOWNLOADS_INTERNAL_PREFIX + quote(storage_path)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def _redirect(storage_path: str) -> HttpResponseBase:
    """302 to the CDN's copy, or to the storage's own (for S3, presigned and short-lived)."""
    if settings.FILE_DOWNLOADS_BASE_URL:
        response = HttpResponseRedirect(f"{settings.FILE_DOWNLOADS_BASE_URL}/{quote(storage_path)}")
        response["Cache-Control"] = IMMUTABLE_CACHE_CONTROL
        return response
    response = HttpResponseRedirect(default_storage.url(storage_path))
    # A presigned URL expires: the redirect to it must not outlive it in any cache.
    response["Cache-Control"] = "private, no-store"
    return response


@stateless
@require_safe
def download_file(request: HttpRequest, path: str) -> HttpResponseBase:
    """Serve a distribution file (counted as a download) or its core metadata (not counted)."""
    file = (
        File.objects.offered()
        .filter(path=path)
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
        if request.method == "GET" and response.status_code in (200, 302):
            record_download(project_id=file["release__project_id"])
        return response
    if path.endswith(METADATA_SUFFIX):
        file_path = path.removesuffix(METADATA_SUFFIX)
        metadata = (
            File.objects.offered()
            .filter(path=file_path)
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

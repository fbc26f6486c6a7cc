"""The /legacy/ upload pipeline, in PyPI's order: each step accepts the upload or refuses it
with one UserFacingError whose message the client prints (an UploadError, or a lower app's
error that `errors.upload_refusal` translates). `upload_file` runs them top to bottom:

transport -> authentication (before the body is read; `access`) -> body (streamed, hashed;
`stream`) -> each single-valued field sent once -> action -> no control characters -> protocol
version -> form (`form`) -> metadata, read once (`metadata`) -> project: create or permission,
the name checked once (`access`) -> size -> filename -> content type -> digests ->
distribution filename and archive contents, before any lock (`filenames`, `archives`) -> the
write, in one transaction this package owns: project created, held, uploader checked again,
duplicates, filename registry, release age, one sdist, rows, events, stored objects
(`publish`) -> after COMMIT: the project-creation allowance, the notice to the owners.
"""

import hashlib
import hmac
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, QueryDict
from django.http.multipartparser import MultiPartParserError
from packaging.metadata import Metadata
from packaging.utils import canonicalize_version

from index_site.commit_outcome import CommitOutcomeUnknownError
from index_site.fresh_connection import with_fresh_connection
from projects.services.files import (
    NewFile,
    NewRelease,
    file_size_limit,
    file_too_large_message,
    format_size_limit,
    largest_file_size_limit,
)
from publishing.services import notify_token_upload_to_published_project
from publishing.upload import filenames
from publishing.upload.access import authenticate, project_creation_limited, project_for_upload
from publishing.upload.archives import distributions
from publishing.upload.archives.license_files import check_license_files
from publishing.upload.description import check_description_renders
from publishing.upload.errors import UploadError
from publishing.upload.form import (
    UploadForm,
    check_no_file_fields,
    check_protocol_version,
    check_sent_once,
    check_text_fields,
    sanitize_form,
    validate_upload_form,
)
from publishing.upload.metadata import REPEATABLE_FIELDS, parse_upload_metadata
from publishing.upload.publish import PublishedFile, Upload, publish_file
from publishing.upload.stream import (
    CHUNK_SIZE,
    HashedUpload,
    HashingUploadHandler,
    RawFilenameMultiPartParser,
)
from tokens.authentication import UploadIdentity

logger = logging.getLogger(__name__)

RETIRED_ACTIONS = {
    "submit": (
        "Project pre-registration is no longer required or supported, upload your files instead."
    ),
    "submit_pkg_info": (
        "Project pre-registration is no longer required or supported, upload your files instead."
    ),
    "doc_upload": (
        "Uploading documentation is no longer supported, we recommend using "
        "https://readthedocs.org/."
    ),
}
COMMIT_OUTCOME_UNKNOWN_MESSAGE = (
    "The connection to the database was lost while the upload was being saved, so it may or may "
    "not be published. Upload the same file again in a moment: if it was published, the answer "
    "says so; if not, it is published then."
)


def read_body(request: HttpRequest) -> tuple[QueryDict, HashedUpload | None, HashingUploadHandler]:
    """Parse the multipart body once, streaming the `content` part through the hashing handler."""
    if not (request.content_type or "").startswith("multipart/form-data"):
        # Not an upload at all: refused before a byte is read, whatever length it declares.
        raise UploadError(
            "The upload must be sent as multipart/form-data with ':action=file_upload', as "
            "twine and uv do.",
            drain_body=False,
        )
    # Read no further than the largest file any project accepts; the exact project's limit is
    # checked once the form says which project this is.
    content_length = _declared_length(request)
    max_size = largest_file_size_limit(content_length=content_length)
    if content_length is not None and content_length > max_size + _form_allowance():
        # Larger than any file plus its metadata: refused before a byte of it is read.
        raise UploadError(
            f"File too large. No project here accepts files over {format_size_limit(max_size)}.",
            drain_body=False,
        )
    handler = HashingUploadHandler(request, max_size=max_size)
    request.upload_handlers = [handler]
    try:
        post, files = RawFilenameMultiPartParser(
            request.META, request, request.upload_handlers, request.encoding
        ).parse()
    except RequestDataTooBig:
        raise UploadError(
            "The metadata fields are too large. Shorten the description or other fields, then "
            "upload again."
        ) from None
    except TooManyFieldsSent:
        raise UploadError("Too many form fields. Send each metadata field once.") from None
    except MultiPartParserError:
        raise UploadError("The multipart body cannot be parsed. Upload with twine or uv.") from None
    upload = files.get("content")
    return post, upload, handler


def _declared_length(request: HttpRequest) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


def _form_allowance() -> int:
    """The most the non-file fields and multipart framing of an upload may add to its file."""
    return (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0) + CHUNK_SIZE


def drain_body(request: HttpRequest) -> None:
    """Read and discard what is left of the body, so the client reads the answer.

    Only a body no larger than an upload may be is read: one declaring more (refused before its
    project was known, say for a bad token) is left unread, never read to its declared end.
    Nothing is kept or hashed; a client that stops sending is cut off by the server's timeout.
    """
    declared = _declared_length(request)
    if declared is None:
        return
    if declared > largest_file_size_limit(content_length=declared) + _form_allowance():
        return
    try:
        while request.read(CHUNK_SIZE):
            pass
    except OSError:
        return


def check_action(post: QueryDict) -> None:
    action = post.get(":action", "")
    if action == "file_upload":
        return
    if action in RETIRED_ACTIONS:
        raise UploadError(RETIRED_ACTIONS[action], status=410)
    raise UploadError(
        f"Unknown :action {action[:40]!r}. This endpoint accepts ':action=file_upload' only.",
        status=400,
    )


def _check_digests(form: UploadForm, upload: HashedUpload) -> None:
    supplied = (
        (form.md5_digest, upload.digests.md5),
        (form.sha256_digest, upload.digests.sha256),
        (form.blake2_256_digest, upload.digests.blake2_256),
    )
    for given, computed in supplied:
        if given and not hmac.compare_digest(given, computed):
            raise UploadError(
                "The digest supplied does not match a digest calculated from the uploaded file. "
                "Upload the file again; if it fails again, rebuild it."
            )


def check_distribution(
    *,
    form: UploadForm,
    metadata: Metadata,
    upload: HashedUpload,
    project_name: str,
    normalized_name: str,
) -> bytes | None:
    """Check the distribution's filename and contents; return a wheel's METADATA.

    Before the write and its project lock: reading an archive takes time and must not hold the
    lock (PyPI checks duplicates first; here they come after).
    """
    filename = upload.raw_filename
    path = upload.temporary_file_path()
    if form.filetype == "sdist":
        if filename.lower().endswith(".zip"):
            distributions.check_zip_sdist(path)
        else:
            distributions.check_tar_sdist(path)
        filenames.check_sdist_filename(
            filename,
            project_name=project_name,
            normalized_name=normalized_name,
            version=metadata.version,
        )
        core_metadata = None
    else:
        filenames.check_wheel_filename(
            filename, normalized_name=normalized_name, version=metadata.version
        )
        core_metadata = distributions.check_wheel(
            path,
            filename=filename,
            dist_info=filenames.wheel_dist_info_dir(filename),
            name=metadata.name,
            version=metadata.version,
            requires_dist=[str(requirement) for requirement in metadata.requires_dist or []],
        ).metadata
    check_license_files(
        path=path, filename=filename, filetype=form.filetype, license_files=metadata.license_files
    )
    return core_metadata


def _event_data(request: HttpRequest, identity: UploadIdentity) -> dict[str, Any]:
    return {
        "uploader": identity.user.username if identity.user else "",
        "token_name": identity.token_name,
        "client": request.META.get("HTTP_USER_AGENT", "")[:255],
        "uploaded_via_trusted_publisher": identity.is_trusted_publisher,
        "publisher_id": identity.publisher_id,
        **({"ci_run": identity.token.ci_run} if identity.token.ci_run else {}),
    }


def check_transport(request: HttpRequest) -> None:
    """Refuse plain HTTP when the site is served over HTTPS (PyPI's "SSL is required").

    A redirect would make twine fail with a confusing message, and the token has crossed the
    network in the clear already: the answer tells the uploader to fix the URL (and the token).
    """
    if settings.SITE_IS_HTTPS and not request.is_secure():
        raise UploadError(
            f"SSL is required. Upload to {settings.SITE_URL}/legacy/ and revoke the API token "
            "you just sent over plain HTTP.",
            status=403,
        )


def upload_file(request: HttpRequest) -> PublishedFile:
    """Run the whole pipeline for one `POST /legacy/`; raise the first refusal."""
    check_transport(request)
    # Both steps that begin with a wait for the database run again on a fresh connection if
    # theirs died meanwhile: the token read, after the connection idled between requests, and
    # the project read, after the body streamed in (which may have taken a minute).
    identity = with_fresh_connection(lambda: authenticate(request))
    post, upload, handler = read_body(request)
    try:
        check_sent_once(post, repeatable=REPEATABLE_FIELDS, content_parts=handler.content_parts)
        check_action(post)
        check_text_fields(post)
        post = sanitize_form(post)
        check_no_file_fields(handler.unexpected_file_fields)
        check_protocol_version(post)
        form = validate_upload_form(post)
        upload_metadata = parse_upload_metadata(post)
        metadata = upload_metadata.core
        if upload is None and not handler.is_too_large:
            raise UploadError("Upload payload does not have a file.")

        project, normalized_name = with_fresh_connection(
            lambda: project_for_upload(request, identity, metadata.name)
        )
        project_name = project.name if project is not None else metadata.name
        check_description_renders(metadata)

        limit = file_size_limit(project)
        if handler.is_too_large or upload is None or (upload.size or 0) > limit:
            raise UploadError(file_too_large_message(project_name, limit))
        filenames.check_filename_shape(upload.raw_filename, filetype=form.filetype)
        if (upload.content_type or "").startswith("image/"):
            raise UploadError("Invalid distribution file.")
        _check_digests(form, upload)
        core_metadata = check_distribution(
            form=form,
            metadata=metadata,
            upload=upload,
            project_name=project_name,
            normalized_name=normalized_name,
        )

        published = _publish(
            request,
            identity,
            Upload(
                project=project,
                name=metadata.name,
                normalized_name=normalized_name,
                release=NewRelease(
                    version=str(metadata.version),
                    canonical_version=canonicalize_version(metadata.version),
                    summary=metadata.summary or "",
                    requires_python=str(metadata.requires_python or ""),
                    metadata=dict(upload_metadata.raw),
                ),
                new_file=NewFile(
                    filename=upload.raw_filename,
                    packagetype=form.filetype,
                    python_version=form.pyversion,
                    requires_python=str(metadata.requires_python or ""),
                    size=upload.size or 0,
                    md5_digest=upload.digests.md5,
                    sha256_digest=upload.digests.sha256,
                    blake2_256_digest=upload.digests.blake2_256,
                    metadata_sha256_digest=(
                        "" if core_metadata is None else hashlib.sha256(core_metadata).hexdigest()
                    ),
                ),
                content=upload,
                core_metadata=core_metadata,
                event_data=_event_data(request, identity),
            ),
        )
    finally:
        if upload is not None:
            upload.close()
    if published.is_new and project is None and not identity.is_trusted_publisher:
        project_creation_limited(request, identity, increment=True)
    if published.is_new and not identity.is_trusted_publisher:
        # A personal token used on a project that publishes from CI may be a stolen one.
        notify_token_upload_to_published_project(project=published.project, identity=identity)
    return published


def _publish(request: HttpRequest, identity: UploadIdentity, upload: Upload) -> PublishedFile:
    try:
        return publish_file(request=request, identity=identity, upload=upload)
    except CommitOutcomeUnknownError:
        logger.exception("Saving an upload failed during COMMIT")
        raise UploadError(COMMIT_OUTCOME_UNKNOWN_MESSAGE, status=503) from None
    # A storage outage (nothing stored is left behind: publish_file deletes it) propagates to
    # index_site.outages, which answers 503 with Retry-After like any other outage.

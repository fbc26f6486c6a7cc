"""The /legacy/ upload pipeline, in PyPI's order: each step accepts the upload or refuses it
with one UploadError whose message the client prints.

authentication (before the body is read) -> body (streamed, hashed) -> each single-valued
field sent once -> action -> no control characters -> protocol version -> form -> metadata ->
project (create or permission) -> filename -> content type -> size -> digests -> distribution
filename and archive contents (before any lock) -> duplicates, filename registry, release age,
one sdist (under the project lock) -> store and commit.
"""

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, QueryDict
from django.http.multipartparser import MultiPartParserError
from django_ratelimit.core import get_usage
from packaging.metadata import Metadata
from packaging.utils import canonicalize_name, canonicalize_version

from accounts.selectors import account_standing
from index_site.commit_outcome import CommitOutcomeUnknownError
from index_site.fresh_connection import reconnect_if_dropped
from index_site.links import absolute_url
from projects.exceptions import ProjectNameError
from projects.models import File, Project
from projects.names import validate_project_name
from projects.policy import two_factor_missing
from projects.selectors import UPLOAD_ROLES, get_project_with_role
from projects.services.files import (
    AddedFile,
    FileRejectedError,
    NewFile,
    NewRelease,
    add_release_file,
    file_size_limit,
    file_too_large_message,
    format_size_limit,
    largest_file_size_limit,
)
from projects.services.projects import create_project
from publishing import dist_archives, dist_filenames
from publishing.pending import project_from_pending_publisher
from publishing.selectors import hold_publisher_attachment, publisher_may_upload_to
from publishing.services import notify_token_upload_to_published_project
from publishing.upload_errors import UploadError
from publishing.upload_form import (
    UploadForm,
    check_no_file_fields,
    check_protocol_version,
    check_sent_once,
    check_text_fields,
    sanitize_form,
    validate_upload_form,
)
from publishing.upload_metadata import (
    REPEATABLE_FIELDS,
    parse_upload_metadata,
    raw_metadata_from_form,
)
from publishing.upload_stream import (
    CHUNK_SIZE,
    HashedUpload,
    HashingUploadHandler,
    RawFilenameMultiPartParser,
)
from tokens.authentication import UploadIdentity, authenticate_upload
from tokens.exceptions import TokenAuthenticationError
from tokens.selectors import hold_token
from tokens.services import record_token_refusal

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
NON_USER_CREATE_MESSAGE = (
    "Non-user identities cannot create new projects. This was probably caused by successfully "
    "using a pending publisher but specifying the project name incorrectly (either in the "
    "publisher or in your project's metadata). Please ensure that both match."
)
COMMIT_OUTCOME_UNKNOWN_MESSAGE = (
    "The connection to the database was lost while the upload was being saved, so it may or may "
    "not be published. Upload the same file again in a moment: if it was published, the answer "
    "says so; if not, it is published then."
)
REVOKED_DURING_UPLOAD_MESSAGE = (
    "The API token was revoked while the file was being sent, so nothing was published. "
    "Upload again with a valid token."
)
TOO_MANY_PROJECTS_MESSAGE = (
    "Too many new projects created. Wait an hour before creating another project, or upload "
    "to one of your existing projects."
)


@dataclass(frozen=True)
class UploadResult:
    file: File
    is_new: bool
    is_restored: bool = False  # see AddedFile


def authenticate(request: HttpRequest) -> UploadIdentity:
    """The upload's identity from its `Authorization` header; users need email and 2FA."""
    try:
        identity = authenticate_upload(request)
    except TokenAuthenticationError as exc:
        raise UploadError(exc.message, status=exc.status) from None
    user = identity.user
    if identity.is_trusted_publisher or user is None:
        return identity
    standing = account_standing(user)
    if not standing.has_verified_email:
        raise UploadError(
            f"User '{user.username}', associated with the API token used, does not have a "
            "verified primary email address. Please add a verified primary email before "
            f"attempting to upload: {absolute_url('accounts:settings')}",
            status=403,
        )
    if two_factor_missing(user, has_factor=standing.has_two_factor):
        raise UploadError(
            f"User '{user.username}', associated with the API token used, does not have "
            "two-factor authentication enabled. Please enable two-factor authentication before "
            f"attempting to upload: {absolute_url('accounts:two_factor')}",
            status=403,
        )
    return identity


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


def _project_or_new_name(
    request: HttpRequest, identity: UploadIdentity, metadata: Metadata
) -> tuple[Project | None, str]:
    """The project the upload goes to (permission checked), or None and the new name's form.

    A concurrent upload (typically the same user's identical or other file) can create the
    project between the lookup and the name check; the name then reads as taken. The project is
    read again, and the upload goes on as one to an existing project, permission checks
    included, rather than telling its own owner the name "conflicts with an existing project".
    """
    project = get_project_with_role(metadata.name, identity.user)
    if project is None:
        try:
            return None, _check_project_creation(request, identity, metadata)
        except ProjectNameError as exc:
            project = get_project_with_role(metadata.name, identity.user)
            if project is None:
                raise UploadError(exc.message, status=_name_error_status(exc)) from None
    _check_project_permission(request, project, identity)
    return project, project.normalized_name


def _name_error_status(error: ProjectNameError) -> int:
    return 409 if error.code == "conflict" else 400


def _check_project_creation(
    request: HttpRequest, identity: UploadIdentity, metadata: Metadata
) -> str:
    """Refuse a first upload that may not create its project; return the normalized name.

    A name that is taken raises ProjectNameError (code "conflict") for the caller to read the
    project again; every other refusal is an UploadError.
    """
    if identity.is_trusted_publisher:
        # The pending publisher (if any) is resolved when the project is created.
        return canonicalize_name(metadata.name)
    if not identity.may_create_projects:
        _record_refusal(
            request,
            identity,
            reason=f"project-scoped token used to create project '{metadata.name}'",
        )
        raise UploadError(identity.scope_error(None), status=403)
    try:
        normalized = validate_project_name(metadata.name)
    except ProjectNameError as exc:
        if exc.code == "conflict":
            raise
        raise UploadError(exc.message, status=_name_error_status(exc)) from None
    if _project_creation_limited(request, identity, increment=False):
        raise UploadError(TOO_MANY_PROJECTS_MESSAGE, status=429)
    return normalized


def _project_creation_limited(
    request: HttpRequest, identity: UploadIdentity, *, increment: bool
) -> bool:
    """Whether this user or client IP created its share of projects for now.

    Tested before creating (the count must still have room for one more) and counted after a
    project was created, so refused uploads do not use up the allowance.
    """
    user_key = f"user:{identity.user.pk if identity.user else 'none'}"
    limits = (
        (
            "upload:project-create:user",
            lambda _group, _request: user_key,
            settings.UPLOAD_PROJECT_CREATE_RATE_USER,
        ),
        ("upload:project-create:ip", "ip", settings.UPLOAD_PROJECT_CREATE_RATE_IP),
    )
    limited = False
    for group, key, rate in limits:
        usage = get_usage(request, group=group, key=key, rate=rate, increment=increment)
        if usage is not None and usage["count"] >= usage["limit"] + (1 if increment else 0):
            limited = True
    return limited


def _record_refusal(request: HttpRequest, identity: UploadIdentity, *, reason: str) -> None:
    """Put a refused use of an authentic token on its owner's security history.

    A token used beyond its scope or its owner's roles may be a stolen one. Throttled per
    token and reason; trusted-publisher tokens have no owner and are skipped.
    """
    record_token_refusal(token=identity.token, reason=reason, request=request)


def _check_project_permission(
    request: HttpRequest, project: Project, identity: UploadIdentity, *, record: bool = True
) -> None:
    """Refuse an upload the token's scope or the user's role does not allow.

    `project` comes from `get_project_with_role` for the identity's user (`user_role` set).
    With `record`, a refusal goes on the token owner's history; pass False inside a
    transaction the refusal rolls back, where the event would be lost with it.
    """
    if identity.is_trusted_publisher and identity.publisher_id is not None:
        # Checked now, not only at mint: the publisher must still be attached to the project
        # (removal takes effect at once), and a project its pending publisher created after
        # minting is admitted. A token its holder narrowed keeps its own project caveats.
        admitted = publisher_may_upload_to(
            publisher_id=identity.publisher_id, token_id=identity.token.pk, project=project
        ) and (not identity.is_attenuated or identity.may_upload_to(project))
    else:
        admitted = identity.may_upload_to(project)
    if not admitted:
        if record:
            _record_refusal(
                request,
                identity,
                reason=f"project-scoped token is not valid for project '{project.name}'",
            )
        raise UploadError(identity.scope_error(project), status=403)
    user = identity.user
    if not identity.is_trusted_publisher:
        if user is None or project.user_role not in UPLOAD_ROLES:  # type: ignore[attr-defined]
            if record:
                _record_refusal(
                    request,
                    identity,
                    reason=f"no owner or maintainer role on project '{project.name}'",
                )
            username = user.username if user else ""
            raise UploadError(
                f"The user '{username}' isn't allowed to upload to project '{project.name}'. "
                "Ask one of its owners to add you as a maintainer, or check the project name.",
                status=403,
            )
        if project.is_trusted_publishing_only:
            raise UploadError(
                f"Project '{project.name}' accepts uploads from its trusted publishers only, "
                "not from API tokens. Publish from the project's configured CI workflow, or ask "
                "an owner to turn off 'trusted publishing only'.",
                status=403,
            )


def _pending_publisher_project(
    *, identity: UploadIdentity, name: str, request: HttpRequest
) -> Project:
    """The project a pending publisher creates on its first upload, or the refusal."""
    try:
        project = project_from_pending_publisher(identity=identity, name=name, request=request)
    except ProjectNameError as exc:
        raise UploadError(exc.message, status=_name_error_status(exc)) from None
    if project is None:
        raise UploadError(NON_USER_CREATE_MESSAGE)
    return project


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


def _check_archive(
    *,
    form: UploadForm,
    metadata: Metadata,
    filename: str,
    upload: HashedUpload,
    project_name: str,
    normalized_name: str,
) -> bytes | None:
    """Check the distribution's filename and contents; return a wheel's METADATA."""
    path = upload.temporary_file_path()
    if form.filetype == "sdist":
        if filename.lower().endswith(".zip"):
            dist_archives.check_zip_sdist(path)
        else:
            dist_archives.check_tar_sdist(path)
        dist_filenames.check_sdist_filename(
            filename,
            project_name=project_name,
            normalized_name=normalized_name,
            version=metadata.version,
        )
        return None
    dist_filenames.check_wheel_filename(
        filename, normalized_name=normalized_name, version=metadata.version
    )
    contents = dist_archives.check_wheel(
        path,
        filename=filename,
        dist_info=dist_filenames.wheel_dist_info_dir(filename),
        name=metadata.name,
        version=metadata.version,
        requires_dist=[str(requirement) for requirement in metadata.requires_dist or []],
    )
    return contents.metadata


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


def upload_file(request: HttpRequest) -> UploadResult:
    """Run the whole pipeline for one `POST /legacy/`; raise UploadError on the first refusal."""
    check_transport(request)
    identity = authenticate(request)
    post, upload, handler = read_body(request)
    # The token was checked before the body streamed in, which may have taken a minute: the
    # connection used then may be gone, and the write must not fail for that.
    reconnect_if_dropped()
    try:
        check_sent_once(post, repeatable=REPEATABLE_FIELDS, content_parts=handler.content_parts)
        check_action(post)
        check_text_fields(post)
        post = sanitize_form(post)
        check_no_file_fields(handler.unexpected_file_fields)
        check_protocol_version(post)
        form = validate_upload_form(post)
        metadata = parse_upload_metadata(post)
        if upload is None and not handler.is_too_large:
            raise UploadError("Upload payload does not have a file.")

        project, normalized_name = _project_or_new_name(request, identity, metadata)
        project_name = project.name if project is not None else metadata.name

        limit = file_size_limit(project)
        if handler.is_too_large or upload is None or (upload.size or 0) > limit:
            raise UploadError(file_too_large_message(project_name, limit))
        size = upload.size or 0
        filename = upload.raw_filename
        dist_filenames.check_filename_shape(filename, filetype=form.filetype)
        if (upload.content_type or "").startswith("image/"):
            raise UploadError("Invalid distribution file.")
        _check_digests(form, upload)

        new_file = NewFile(
            filename=filename,
            packagetype=form.filetype,
            python_version=form.pyversion,
            requires_python=str(metadata.requires_python or ""),
            size=size,
            md5_digest=upload.digests.md5,
            sha256_digest=upload.digests.sha256,
            blake2_256_digest=upload.digests.blake2_256,
            local_file=upload,
        )

        # Run by add_release_file before its transaction: reading an archive takes time and must
        # not hold the project row lock (PyPI checks duplicates first; here they come after).
        check_contents = partial(
            _check_archive,
            form=form,
            metadata=metadata,
            filename=filename,
            upload=upload,
            project_name=project_name,
            normalized_name=normalized_name,
        )
        added = _store(
            request=request,
            identity=identity,
            project=project,
            post=post,
            metadata=metadata,
            new_file=new_file,
            check_contents=check_contents,
        )
    finally:
        if upload is not None:
            upload.close()
    if added.is_new and project is None and not identity.is_trusted_publisher:
        _project_creation_limited(request, identity, increment=True)
    if added.is_new and not identity.is_trusted_publisher:
        # A personal token used on a project that publishes from CI may be a stolen one.
        notify_token_upload_to_published_project(project=added.project, identity=identity)
    return UploadResult(file=added.file, is_new=added.is_new, is_restored=added.is_restored)


def _store(
    *,
    request: HttpRequest,
    identity: UploadIdentity,
    project: Project | None,
    post: QueryDict,
    metadata: Metadata,
    new_file: NewFile,
    check_contents: Callable[[], bytes | None],
) -> AddedFile:
    def new_project() -> Project:
        if identity.is_trusted_publisher:
            return _pending_publisher_project(
                identity=identity, name=metadata.name, request=request
            )
        assert identity.user is not None  # noqa: S101 - user tokens always have a user
        try:
            return create_project(
                name=metadata.name, creator=identity.user, request=request, via="upload"
            )
        except ProjectNameError as exc:
            if exc.code == "conflict":
                # A concurrent upload (typically this user's other file) created it first: go
                # on as an upload to an existing project, permission checks included.
                project = get_project_with_role(metadata.name, identity.user)
                if project is not None:
                    # Inside the upload's transaction: a refusal here rolls back, with any
                    # event written for it (the race is not a sign of a stolen token).
                    _check_project_permission(request, project, identity, record=False)
                    return project
            raise UploadError(exc.message, status=_name_error_status(exc)) from None

    def still_authorized(locked_project: Project) -> None:
        # The token was checked before the body streamed, which can take minutes: revoking it
        # (or removing the publisher) meanwhile must stop this upload, so both are read again
        # under locks that make a concurrent revocation wait for this commit.
        if not hold_token(token_id=identity.token.pk):
            raise UploadError(REVOKED_DURING_UPLOAD_MESSAGE, status=403)
        if (
            identity.is_trusted_publisher
            and identity.publisher_id is not None
            and not hold_publisher_attachment(
                publisher_id=identity.publisher_id,
                project=locked_project,
                token_id=identity.token.pk,
            )
        ):
            raise UploadError(identity.scope_error(locked_project), status=403)

    raw = dict(raw_metadata_from_form(post))
    try:
        return add_release_file(
            project=project,
            create_project=new_project,
            check_uploader=still_authorized,
            release=NewRelease(
                version=str(metadata.version),
                canonical_version=canonicalize_version(metadata.version),
                summary=metadata.summary or "",
                requires_python=str(metadata.requires_python or ""),
                metadata=raw,
            ),
            new_file=new_file,
            check_contents=check_contents,
            actor=identity.user,
            request=request,
            event_data=_event_data(request, identity),
        )
    except FileRejectedError as exc:
        raise UploadError(exc.message) from None
    except CommitOutcomeUnknownError:
        logger.exception("Saving an upload failed during COMMIT")
        raise UploadError(COMMIT_OUTCOME_UNKNOWN_MESSAGE, status=503) from None
    # A storage outage (nothing stored is left behind: add_release_file deletes it) propagates
    # to index_site.outages, which answers 503 with Retry-After like any other outage.

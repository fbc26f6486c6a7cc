"""The upload's write step: one transaction for its rows and events, and its stored objects.

Everything that needs no lock has been checked (publishing.upload.pipeline). Inside one
transaction, in order: the project is created on a first upload, its row is held, the uploader
is checked again, the project's file rules are applied, the release and file rows are written
through `projects`' plain services, and the objects are stored. If anything fails before
COMMIT, the objects are deleted again, so a refused or failed upload leaves no visible file and
no orphan. If COMMIT itself fails the outcome is unknown (the server may have committed): the
objects are kept, and `projects.services.files.delete_orphaned_files` deletes them later if no
row references them, as it does objects left by a crash between storing and committing. An
identical re-upload that finds its row without its object stores the object again.
"""

import logging
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError
from django.http import HttpRequest

from index_site.commit_outcome import CommitOutcomeUnknownError, atomic_with_known_outcome
from projects.models import File, Project
from projects.services.files import (
    METADATA_SUFFIX,
    NewFile,
    NewRelease,
    add_file,
    check_new_file,
    create_release,
    file_exists_error,
    hold_project_for_file,
)
from publishing.upload.access import check_still_authorized, create_first_project
from tokens.authentication import UploadIdentity

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishedFile:
    file: File
    project: Project
    is_new: bool  # False: the identical file was already there
    # The identical file's row was there without its stored object (a COMMIT whose outcome was
    # unknown, a lost object): this upload stored the object again.
    is_restored: bool = False


@dataclass(frozen=True)
class Upload:
    """What the write step publishes: checked, with the bytes on local disk."""

    project: Project | None  # None: a first upload, which creates the project
    name: str  # the project name as the metadata gives it
    normalized_name: str  # as `access.project_for_upload` returned it
    release: NewRelease
    new_file: NewFile
    content: UploadedFile  # the distribution (the upload's temporary file)
    core_metadata: bytes | None  # served beside the file (a wheel's METADATA), or None
    event_data: dict[str, Any]  # who uploaded, how (kept in the audit events)


def publish_file(
    *, request: HttpRequest, identity: UploadIdentity, upload: Upload
) -> PublishedFile:
    """Write `upload`'s rows and audit events in one transaction and store its objects.

    The identical file of the same project uploaded again changes nothing and returns
    `is_new=False`, unless its stored object is missing: then the object is stored again and
    `is_restored` is True. Raise UploadError when the uploader may no longer publish,
    FileRejectedError when a rule refuses the file, ProjectNameError when a first upload cannot
    create its project, and CommitOutcomeUnknownError when COMMIT failed: the file may or may
    not be published, and an identical re-upload settles it either way.
    """
    stored: list[str] = []
    try:
        return _publish_in_transaction(
            request=request, identity=identity, upload=upload, stored=stored
        )
    except CommitOutcomeUnknownError:
        # The rows may have committed: deleting the objects now could leave a published file
        # that cannot be downloaded. The orphan sweep deletes them if no row references them.
        logger.warning(
            "Upload COMMIT failed, outcome unknown; stored objects kept for the orphan sweep",
            extra={"dist_filename": upload.new_file.filename, "paths": stored},
        )
        raise
    except BaseException as exc:
        # Failed before COMMIT, so rolled back: the stored objects must not outlive it.
        for path in stored:
            default_storage.delete(path)
        if isinstance(exc, IntegrityError):
            # Another upload took the filename or a digest between the check and the insert.
            raise file_exists_error(upload.new_file) from None
        raise


@atomic_with_known_outcome()
def _publish_in_transaction(
    *, request: HttpRequest, identity: UploadIdentity, upload: Upload, stored: list[str]
) -> PublishedFile:
    project = upload.project
    if project is None:
        # Inside the transaction, so a failure later on leaves no empty project behind.
        project = create_first_project(
            request=request,
            identity=identity,
            name=upload.name,
            normalized_name=upload.normalized_name,
        )
    held = hold_project_for_file(
        project=project,
        new_file=upload.new_file,
        canonical_version=upload.release.canonical_version,
    )
    project = held.project
    check_still_authorized(identity, project)
    existing = check_new_file(held=held, new_file=upload.new_file)
    if existing is not None:
        # Only a file of this project: a project created just now has none yet.
        is_restored = _restore_missing_objects(file=existing, upload=upload)
        return PublishedFile(file=existing, project=project, is_new=False, is_restored=is_restored)
    event_data = upload.event_data
    release_id = held.release_id
    if release_id is None:
        release_id = create_release(
            project=project,
            release=upload.release,
            actor=identity.user,
            request=request,
            event_data=event_data,
        ).pk
    file = add_file(
        project=project,
        release_id=release_id,
        release=upload.release,
        new_file=upload.new_file,
        actor=identity.user,
        request=request,
        event_data=event_data,
    )
    _store(file.path, upload.content, stored)
    if upload.core_metadata is not None:
        _store(file.path + METADATA_SUFFIX, ContentFile(upload.core_metadata), stored)
    return PublishedFile(file=file, project=project, is_new=True)


def _restore_missing_objects(*, file: File, upload: Upload) -> bool:
    """Store again, from an identical re-upload, the objects a committed `file` row lacks.

    Runs under the project row lock, so concurrent re-uploads restore one at a time. The row is
    committed already, so what is stored here is never deleted on a later failure.
    """
    missing: dict[str, Any] = {}
    if not default_storage.exists(file.path):
        missing[file.path] = upload.content
    metadata_path = file.path + METADATA_SUFFIX
    if (
        upload.core_metadata is not None
        and file.metadata_sha256_digest == upload.new_file.metadata_sha256_digest
        and not default_storage.exists(metadata_path)
    ):
        missing[metadata_path] = ContentFile(upload.core_metadata)
    if not missing:
        return False
    logger.warning(
        "Published file had no stored object; restored from an identical re-upload",
        extra={"dist_filename": file.filename, "paths": list(missing)},
    )
    restored: list[str] = []
    for path, content in missing.items():
        _store(path, content, restored)
    return True


def _store(path: str, content: Any, stored: list[str]) -> None:
    # No File row names this path (checked under the project lock), so an object already there
    # is an orphan of a crashed upload: replace it rather than store under another name.
    # A temporary upload (with a path) is moved into place by the filesystem storage, not read
    # and copied a second time.
    if default_storage.exists(path):
        default_storage.delete(path)
    stored.append(path)
    saved = default_storage.save(path, content)
    if saved != path:
        stored.append(saved)
        raise OSError(f"Storage saved {path!r} as {saved!r}.")

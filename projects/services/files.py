"""Writes for releases and their files: the row, the filename registry and the stored object.

A file is stored at a path derived from its blake2 digest (never from the client's filename
alone), then its rows commit in the same transaction as the audit events. If anything fails
before COMMIT, the object is deleted again, so a refused or failed upload leaves no visible file
and no orphan. If COMMIT itself fails the outcome is unknown (the server may have committed): the
object is kept, and `delete_orphaned_files` deletes it later if no row references it, as it does
objects left by a crash between storing and committing. An identical re-upload that finds its row
without its object stores the object again.
"""

import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files import File as DjangoFile
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection
from django.db.models import F, Max
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User
from auditlog.events import EventType
from auditlog.services import record_event
from index_site.commit_outcome import CommitOutcomeUnknownError, atomic_with_known_outcome
from projects.models import File, FilenameRegistry, Project, Release
from projects.services.projects import bump_serial
from projects.services.status import upload_refusal

FILE_REUSE_HELP = "Use a new version number: a filename can only ever hold one file."
METADATA_SUFFIX = ".metadata"
# Where the fan-out puts distributions and their `.metadata`; nothing else is ever swept.
_STORED_PATH_RE = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{60}/[^/]+\Z")
# How old an object no row references must be before the sweep deletes it: see
# `delete_orphaned_files` for why that is safe against an upload in flight.
ORPHAN_MIN_AGE = timedelta(hours=1)
MIB = 1024 * 1024
GIB = 1024 * MIB

logger = logging.getLogger(__name__)


class FileRejectedError(Exception):
    """The file cannot be added to the project; `message` says why and what to do.

    `status` is the HTTP status the upload API answers with: 400 for a file the rules refuse,
    403 for a project or release that takes no uploads at all (archived, quarantined).
    """

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class NewFile:
    """A distribution file that passed validation and waits on local disk to be stored."""

    filename: str
    packagetype: str
    python_version: str
    requires_python: str
    size: int
    md5_digest: str
    sha256_digest: str
    blake2_256_digest: str
    local_file: Any  # a Django File (the upload's temporary file)


@dataclass(frozen=True)
class NewRelease:
    version: str
    canonical_version: str
    summary: str = ""
    requires_python: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AddedFile:
    file: File
    project: Project
    is_new: bool  # False: the identical file was already there
    # The identical file's row was there without its stored object (a COMMIT whose outcome was
    # unknown, a lost object): this upload stored the object again.
    is_restored: bool = False


def storage_path_for(*, blake2_256_digest: str, filename: str) -> str:
    """`ab/cd/<rest of the blake2 digest>/<filename>`: content-addressed, as on PyPI."""
    digest = blake2_256_digest
    return f"{digest[:2]}/{digest[2:4]}/{digest[4:]}/{filename}"


def file_size_limit(project: Project | None) -> int:
    """The largest file `project` accepts: its own limit when an admin set one (higher or lower
    than the site default), else the site default."""
    if project is not None and project.upload_limit is not None:
        return project.upload_limit
    return settings.UPLOAD_MAX_FILE_SIZE


def project_size_limit(project: Project | None) -> int:
    """The most all of `project`'s files may weigh together: its own limit when an admin set
    one (higher or lower than the site default), else the site default."""
    if project is not None and project.total_size_limit is not None:
        return project.total_size_limit
    return settings.UPLOAD_MAX_PROJECT_SIZE


def largest_file_size_limit(*, content_length: int | None = None) -> int:
    """The largest file any project accepts: how far an upload may be read before its project
    is known. A body no larger than the site default needs no query (a project's own lower
    limit is checked once the project is known)."""
    if content_length is not None and content_length <= settings.UPLOAD_MAX_FILE_SIZE:
        return settings.UPLOAD_MAX_FILE_SIZE
    raised = Project.objects.aggregate(largest=Max("upload_limit"))["largest"] or 0
    return max(settings.UPLOAD_MAX_FILE_SIZE, raised)


def format_size_limit(size: int) -> str:
    if size % GIB == 0:
        return f"{size // GIB} GB"
    if size % MIB == 0:
        return f"{size // MIB} MB"
    if size % 1024 == 0:
        return f"{size // 1024} KB"
    return f"{size} bytes"


def file_too_large_message(project_name: str, limit: int) -> str:
    return (
        f"File too large. Limit for project '{project_name}' is {format_size_limit(limit)}. "
        "Ask the site administrators to change the limit if the project needs larger files."
    )


def project_too_large_message(project_name: str, limit: int) -> str:
    return (
        f"Project size too large. Limit for project '{project_name}' total size is "
        f"{format_size_limit(limit)}. Delete old files, or ask the site administrators to raise "
        "the limit."
    )


@dataclass(frozen=True)
class _FileChecks:
    """What the project's rules for a new file read, fetched with the project row lock."""

    project: Project
    clashing_file_id: int | None  # a file with this filename or blake2 digest
    is_filename_registered: bool
    release_id: int | None  # the existing release of this version
    is_release_closed: bool  # older than UPLOAD_RELEASE_MAX_AGE_DAYS
    release_has_sdist: bool


# Every upload runs this one query, so it is written out: composed by the ORM (five subqueries)
# it cost more CPU than all the rest of the upload's queries. Named after the models' tables.
_FILE_CHECKS_SQL = """
SELECT project.*,
    (SELECT clash.id FROM {file} clash
        WHERE clash.filename = %s OR clash.blake2_256_digest = %s
        ORDER BY clash.filename LIMIT 1) AS clashing_file_id,
    EXISTS (SELECT 1 FROM {registry} registry WHERE registry.filename = %s)
        AS is_filename_registered,
    release.id AS release_id,
    release.created_at < %s AS is_release_closed,
    EXISTS (SELECT 1 FROM {file} sdist
        WHERE sdist.release_id = release.id AND sdist.packagetype = %s) AS release_has_sdist
FROM {project} project
LEFT OUTER JOIN {release} release
    ON release.project_id = project.id AND release.canonical_version = %s
WHERE project.id = %s
"""


def _lock_project_for_new_file(
    *, project_id: int, new_file: NewFile, canonical_version: str
) -> _FileChecks:
    """Lock the project row and read everything the file rules need, in one query.

    The lock serialises uploads to one project: concurrent identical uploads see each other's
    committed row and answer "already there" instead of racing the constraints. The clashing
    file is the one `.first()` would pick (by filename), so the same file is reported.
    """
    sql = _FILE_CHECKS_SQL.format(
        file=File._meta.db_table,
        registry=FilenameRegistry._meta.db_table,
        project=Project._meta.db_table,
        release=Release._meta.db_table,
    )
    features = connection.features
    if features.has_select_for_update_of:
        sql += "FOR UPDATE OF project"
    elif features.has_select_for_update:
        sql += "FOR UPDATE"
    # SQLite has no row locks: it serialises writing transactions itself.
    closed_before = timezone.now() - timedelta(days=settings.UPLOAD_RELEASE_MAX_AGE_DAYS)
    params = [
        new_file.filename,
        new_file.blake2_256_digest,
        new_file.filename,
        connection.ops.adapt_datetimefield_value(closed_before),
        File.PackageType.SDIST.value,
        canonical_version,
        project_id,
    ]
    locked = next(iter(Project.objects.raw(sql, params)))
    return _FileChecks(
        project=locked,
        clashing_file_id=locked.clashing_file_id,  # type: ignore[attr-defined]
        is_filename_registered=bool(locked.is_filename_registered),  # type: ignore[attr-defined]
        release_id=locked.release_id,  # type: ignore[attr-defined]
        is_release_closed=bool(locked.is_release_closed),  # type: ignore[attr-defined]
        release_has_sdist=bool(locked.release_has_sdist),  # type: ignore[attr-defined]
    )


def _check_new_file(*, checks: _FileChecks, new_file: NewFile) -> File | None:
    """Apply the project's rules to a new file; return the identical file if already there.

    Raise FileRejectedError for a filename or content clash, a deleted filename, a project over
    its total size, a release too old for new files, or a second sdist.
    """
    if checks.clashing_file_id is not None:
        existing = File.objects.select_related("release").get(pk=checks.clashing_file_id)
        # Only a file of this very project is "already there": the same bytes published by
        # another project are that project's file, and this upload may not claim them.
        if (
            existing.release.project_id == checks.project.pk
            and existing.filename == new_file.filename
            and existing.sha256_digest == new_file.sha256_digest
            and existing.blake2_256_digest == new_file.blake2_256_digest
        ):
            return existing
        raise FileRejectedError(
            f"File already exists ('{new_file.filename}', with blake2_256 hash "
            f"'{new_file.blake2_256_digest}'). {FILE_REUSE_HELP}"
        )
    if checks.is_filename_registered:
        raise FileRejectedError(
            "This filename was previously used by a file that has since been deleted. Use a "
            "different version."
        )
    project = checks.project
    limit = project_size_limit(project)
    if project.total_size + new_file.size > limit:
        raise FileRejectedError(project_too_large_message(project.name, limit))
    if checks.release_id is None:
        return None
    if checks.is_release_closed:
        raise FileRejectedError(
            f"Uploading new files to releases older than {settings.UPLOAD_RELEASE_MAX_AGE_DAYS} "
            "days is not allowed. Publish a new version instead."
        )
    if new_file.packagetype == File.PackageType.SDIST and checks.release_has_sdist:
        raise FileRejectedError(
            "Only one sdist may be uploaded per release. Publish a new version to change it."
        )
    return None


def add_release_file(
    *,
    project: Project | None,
    create_project: Callable[[], Project] | None = None,
    release: NewRelease,
    new_file: NewFile,
    check_contents: Callable[[], bytes | None] | None = None,
    check_uploader: Callable[[Project], None] | None = None,
    actor: User | None,
    request: HttpRequest | None = None,
    event_data: dict[str, Any] | None = None,
) -> AddedFile:
    """Add `new_file` to the release (created if new) and store it; record the audit events.

    First `check_contents` (if given) validates the file itself and returns the core metadata
    to serve beside it (a wheel's METADATA) or None; whatever it raises propagates before any
    transaction starts: reading an archive takes time and must never hold the project lock.
    When `project` is None, `create_project` is called inside the transaction, so a failure
    later on leaves no empty project behind. The project's rules are checked under the project
    row lock. `check_uploader` (if given) runs inside the transaction, under that lock, before
    anything is written: the caller's last word on whether the uploader may still publish (a
    token revoked while the body streamed); whatever it raises rolls everything back. The
    identical file of the same project uploaded again changes nothing and returns
    `is_new=False`, unless its stored object is missing: then the object is stored again and
    `is_restored` is True. Raises FileRejectedError when a rule refuses the file (see
    `_check_new_file`), and CommitOutcomeUnknownError when COMMIT failed: the file may or may
    not be published, and an identical re-upload settles it either way.
    """
    core_metadata = check_contents() if check_contents is not None else None
    stored: list[str] = []
    try:
        result = _add_release_file(
            project=project,
            create_project=create_project,
            release=release,
            new_file=new_file,
            core_metadata=core_metadata,
            check_uploader=check_uploader,
            actor=actor,
            request=request,
            event_data=event_data or {},
            stored=stored,
        )
    except CommitOutcomeUnknownError:
        # The rows may have committed: deleting the objects now could leave a published file
        # that cannot be downloaded. The orphan sweep deletes them if no row references them.
        logger.warning(
            "Upload COMMIT failed, outcome unknown; stored objects kept for the orphan sweep",
            extra={"dist_filename": new_file.filename, "paths": stored},
        )
        raise
    except BaseException as exc:
        # Failed before COMMIT, so rolled back: the stored objects must not outlive it.
        for path in stored:
            default_storage.delete(path)
        if isinstance(exc, IntegrityError):
            # Another upload took the filename or a digest between the check and the insert.
            raise FileRejectedError(
                f"File already exists ('{new_file.filename}', with blake2_256 hash "
                f"'{new_file.blake2_256_digest}'). {FILE_REUSE_HELP}"
            ) from None
        raise
    return result


@atomic_with_known_outcome()
def _add_release_file(
    *,
    project: Project | None,
    create_project: Callable[[], Project] | None,
    release: NewRelease,
    new_file: NewFile,
    core_metadata: bytes | None,
    check_uploader: Callable[[Project], None] | None,
    actor: User | None,
    request: HttpRequest | None,
    event_data: dict[str, Any],
    stored: list[str],
) -> AddedFile:
    if project is None:
        if create_project is None:
            raise ValueError("Pass create_project when the project does not exist yet.")
        project = create_project()
    checks = _lock_project_for_new_file(
        project_id=project.pk, new_file=new_file, canonical_version=release.canonical_version
    )
    project = checks.project
    if check_uploader is not None:
        check_uploader(project)
    if refusal := upload_refusal(project=project, release_id=checks.release_id):
        raise FileRejectedError(refusal, status=403)
    existing = _check_new_file(checks=checks, new_file=new_file)
    if existing is not None:
        # Only a file of this project: a project created just now has none yet.
        is_restored = _restore_missing_objects(
            file=existing, new_file=new_file, core_metadata=core_metadata
        )
        return AddedFile(file=existing, project=project, is_new=False, is_restored=is_restored)
    data = {
        **event_data,
        "version": release.version,
        "canonical_version": release.canonical_version,
    }
    release_id = checks.release_id
    if release_id is None:
        release_id = Release.objects.create(
            project=project,
            version=release.version,
            canonical_version=release.canonical_version,
            summary=release.summary,
            requires_python=release.requires_python,
            metadata=release.metadata,
            uploaded_by=actor,
        ).pk
        record_event(
            event_type=EventType.PROJECT_RELEASE_ADD,
            actor=actor,
            request=request,
            project=project,
            data=data,
        )

    path = storage_path_for(
        blake2_256_digest=new_file.blake2_256_digest, filename=new_file.filename
    )
    metadata_digest = ""
    if core_metadata is not None:
        metadata_digest = hashlib.sha256(core_metadata).hexdigest()
    # A concurrent upload that took the filename or a digest after the check fails the insert
    # with IntegrityError, which rolls the whole transaction back (see add_release_file).
    file = File.objects.create(
        release_id=release_id,
        filename=new_file.filename,
        packagetype=new_file.packagetype,
        python_version=new_file.python_version,
        requires_python=new_file.requires_python,
        size=new_file.size,
        md5_digest=new_file.md5_digest,
        sha256_digest=new_file.sha256_digest,
        blake2_256_digest=new_file.blake2_256_digest,
        path=path,
        metadata_sha256_digest=metadata_digest,
        uploaded_by=actor,
        uploaded_via=(request.META.get("HTTP_USER_AGENT", "") if request else "")[:255],
    )
    FilenameRegistry.objects.create(filename=new_file.filename)
    Project.objects.filter(pk=project.pk).update(total_size=F("total_size") + new_file.size)
    bump_serial(project=project)
    # Two INSERTs, not one bulk_create: Django's bulk insert costs more for two rows than two
    # plain inserts (measured on PostgreSQL).
    record_event(
        event_type=EventType.PROJECT_FILE_ADD,
        actor=actor,
        request=request,
        project=project,
        data={
            **data,
            "filename": new_file.filename,
            "packagetype": new_file.packagetype,
            "sha256_digest": new_file.sha256_digest,
        },
    )
    _store(path, _local_content(new_file), stored)
    if core_metadata is not None:
        _store(path + METADATA_SUFFIX, ContentFile(core_metadata), stored)
    return AddedFile(file=file, project=project, is_new=True)


def _local_content(new_file: NewFile) -> Any:
    local = new_file.local_file
    # A temporary upload (with a path) is moved into place by the filesystem storage, not read
    # and copied a second time.
    return local if hasattr(local, "temporary_file_path") else DjangoFile(local)


def _restore_missing_objects(*, file: File, new_file: NewFile, core_metadata: bytes | None) -> bool:
    """Store again, from an identical re-upload, the objects a committed `file` row lacks.

    Runs under the project row lock, so concurrent re-uploads restore one at a time. The row is
    committed already, so what is stored here is never deleted on a later failure.
    """
    missing: dict[str, Any] = {}
    if not default_storage.exists(file.path):
        missing[file.path] = _local_content(new_file)
    metadata_path = file.path + METADATA_SUFFIX
    if (
        core_metadata is not None
        and file.metadata_sha256_digest == hashlib.sha256(core_metadata).hexdigest()
        and not default_storage.exists(metadata_path)
    ):
        missing[metadata_path] = ContentFile(core_metadata)
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
    if default_storage.exists(path):
        default_storage.delete(path)
    stored.append(path)
    saved = default_storage.save(path, content)
    if saved != path:
        stored.append(saved)
        raise OSError(f"Storage saved {path!r} as {saved!r}.")


@dataclass(frozen=True)
class UnreferencedObject:
    path: str
    modified_at: datetime
    is_sweepable: bool  # old enough for `delete_orphaned_files` to delete it


@dataclass(frozen=True)
class StorageCheck:
    """Where File rows and stored objects disagree."""

    # Paths a File row names (the distribution, or its `.metadata` when the row has a metadata
    # digest) with no stored object: the file is listed but cannot be downloaded.
    missing_objects: list[str]
    # Distribution objects no File row references: a failed upload's, or one in flight.
    unreferenced_objects: list[UnreferencedObject]


def check_storage(*, older_than: timedelta = ORPHAN_MIN_AGE) -> StorageCheck:
    """Compare File rows with the stored objects; `older_than` as for `delete_orphaned_files`.

    The rows are read before the objects are listed: a row commits only after its object was
    stored, so an object missing from the listing is missing indeed. Filesystem-like storages
    (with `listdir`) only.
    """
    cutoff = _sweep_cutoff(older_than)
    rows = list(File.objects.order_by("path").values_list("path", "metadata_sha256_digest"))
    stored = set(_walk(""))
    missing: list[str] = []
    for path, metadata_digest in rows:
        expected = (path, path + METADATA_SUFFIX) if metadata_digest else (path,)
        missing.extend(name for name in expected if name not in stored)
    referenced = {path for path, _digest in rows}
    unreferenced = []
    for path in sorted(_unreferenced(stored, referenced)):
        modified_at = default_storage.get_modified_time(path)
        unreferenced.append(
            UnreferencedObject(
                path=path, modified_at=modified_at, is_sweepable=modified_at < cutoff
            )
        )
    return StorageCheck(missing_objects=missing, unreferenced_objects=unreferenced)


def delete_orphaned_files(*, older_than: timedelta = ORPHAN_MIN_AGE) -> int:
    """Delete stored distribution objects no File row references; return how many.

    Only objects last modified over `older_than` ago (an hour by default) are deleted, so an
    upload in flight never loses its object. An upload stores its object inside its transaction;
    the object's modified time is when its bytes were last written (the filesystem storage
    moves the upload's temporary file into place, keeping the time the body's last chunk
    arrived; object stores record when the object was written). From then until its
    transaction ends lie the archive checks, the wait for the project lock, a few inserts and
    COMMIT: one request, which gunicorn's worker timeout (30 seconds unless raised) ends,
    reading a body at most UPLOAD_MAX_FILE_SIZE. Half the age bounds that gap a hundredfold.

    The one wait no request timeout bounds is a COMMIT the database holds (synchronous
    replication waiting for a standby): the transaction stays open after the worker is gone and
    commits when the standby answers, however late. So on PostgreSQL the objects kept are also
    those modified less than half the age before the oldest transaction still open on the
    database began (see `_sweep_cutoff`); a transaction open for hours keeps the objects of its
    time until it ends. Filesystem-like storages (with `listdir`) only.
    """
    # The cutoff comes before the rows: a transaction that commits after it was taken is either
    # seen by the read of the rows, or its object is younger than the cutoff.
    cutoff = _sweep_cutoff(older_than)
    referenced = set(File.objects.values_list("path", flat=True))
    deleted = 0
    for path in _unreferenced(_walk(""), referenced):
        if default_storage.get_modified_time(path) >= cutoff:
            continue
        default_storage.delete(path)
        deleted += 1
    return deleted


def _sweep_cutoff(older_than: timedelta) -> datetime:
    """Objects modified before this moment belong to no transaction still open.

    An upload's transaction begins less than half the age after its object was last modified
    (see `delete_orphaned_files`), so an object modified over half the age before the oldest
    open transaction began belongs to a transaction that has ended: committed, and then its
    row is visible, or rolled back. PostgreSQL shows the transactions of the application's own
    role in pg_stat_activity; other databases have only the age.
    """
    cutoff = timezone.now() - older_than
    if connection.vendor != "postgresql":
        return cutoff
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(xact_start) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        oldest = cursor.fetchone()[0]
    if oldest is None:
        return cutoff
    return min(cutoff, oldest - older_than / 2)


def _unreferenced(paths: Iterable[str], referenced: set[str]) -> Iterator[str]:
    """The distribution objects (and their `.metadata`) among `paths` no File row names."""
    for path in paths:
        if _STORED_PATH_RE.match(path) and path.removesuffix(METADATA_SUFFIX) not in referenced:
            yield path


def _walk(directory: str) -> Iterator[str]:
    try:
        directories, files = default_storage.listdir(directory)
    except FileNotFoundError:
        if directory:
            raise
        return  # Nothing was ever stored: a filesystem storage's root is not made yet.
    for name in files:
        yield f"{directory}/{name}" if directory else name
    for name in directories:
        # Only the two-level hex fan-out holds distributions.
        yield from _walk(f"{directory}/{name}" if directory else name)

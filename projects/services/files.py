"""Writes for releases and their files, the project's file rules, and the stored-object sweep.

The services here write rows and their audit events; they open no transaction of their own and
store nothing. Their caller (the upload, `publishing.upload.publish`) runs them in order inside
its one write transaction and owns the stored objects: `hold_project_for_file` locks the project
row and reads what the rules need, `check_new_file` applies the rules, `create_release` and
`add_file` write. A file's object lives at a path derived from its blake2 digest (never from the
client's filename alone); `delete_orphaned_files` deletes objects no row references, such as
those kept after a COMMIT whose outcome was unknown.
"""

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User
from auditlog.events import EventType
from auditlog.services import record_event
from index_site.errors import UserFacingError
from index_site.model_statements import column_count, insert_row, row_instance, select_list
from projects.models import File, FilenameRegistry, Project, Release
from projects.services.projects import bump_serial, require_transaction
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


class FileRejectedError(UserFacingError):
    """The file cannot be added to the project; `message` says why and what to do.

    `status` is the HTTP status the upload API answers with: 400 for a file the rules refuse,
    403 for a project or release that takes no uploads at all (archived, quarantined).
    """

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class NewFile:
    """A distribution file that passed validation, as its row will describe it."""

    filename: str
    packagetype: str
    python_version: str
    requires_python: str
    size: int
    md5_digest: str
    sha256_digest: str
    blake2_256_digest: str
    # The sha256 of the core metadata served beside the file (a wheel's METADATA), or "".
    metadata_sha256_digest: str = ""


@dataclass(frozen=True)
class NewRelease:
    version: str
    canonical_version: str
    summary: str = ""
    requires_python: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


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
class HeldProject:
    """A project row locked for a new file, with what the file rules read (one query)."""

    project: Project
    clashing_file_id: int | None  # a file with this filename or blake2 digest
    is_filename_registered: bool
    release_id: int | None  # the existing release of this version
    is_release_closed: bool  # older than UPLOAD_RELEASE_MAX_AGE_DAYS
    release_has_sdist: bool
    # The existing release's version when an administrator quarantined it, else None.
    quarantined_release_version: str | None


# Every upload runs these two statements, so they are written out: composed by the ORM (five
# subqueries) the checks cost more CPU than all the rest of the upload's queries, and the lock
# more than PostgreSQL spent taking it. Named after the models' tables.
_LOCK_PROJECT_SQL = "SELECT 1 FROM {project} WHERE id = %s FOR UPDATE"
_FILE_CHECKS_SQL = """
SELECT {columns},
    (SELECT clash.id FROM {file} clash
        WHERE clash.filename = %s OR clash.blake2_256_digest = %s
        ORDER BY clash.filename LIMIT 1) AS clashing_file_id,
    EXISTS (SELECT 1 FROM {registry} registry WHERE registry.filename = %s)
        AS is_filename_registered,
    release.id AS release_id,
    CASE WHEN release.is_quarantined THEN release.version END AS quarantined_release_version,
    release.created_at < %s AS is_release_closed,
    EXISTS (SELECT 1 FROM {file} sdist
        WHERE sdist.release_id = release.id AND sdist.packagetype = %s) AS release_has_sdist
FROM {project} project
LEFT OUTER JOIN {release} release
    ON release.project_id = project.id AND release.canonical_version = %s
WHERE project.id = %s
"""


def hold_project_for_file(
    *, project: Project, new_file: NewFile, canonical_version: str
) -> HeldProject:
    """Lock `project`'s row until the transaction ends; then read what the file rules need.

    The lock serialises uploads to one project: concurrent uploads see each other's committed
    rows (the identical file answers "already there", a file of the same new release finds
    that release) instead of racing the constraints. The clashing file is the one `.first()`
    would pick (by filename), so the same file is reported.
    """
    require_transaction("hold_project_for_file")
    # The lock is its own statement: in READ COMMITTED a statement sees the rows committed
    # before it started, so a read in the statement that waited for the lock would miss the
    # release created by the upload it waited for. SQLite has no row locks: it serialises
    # writing transactions itself.
    if connection.features.has_select_for_update:
        with connection.cursor() as cursor:
            cursor.execute(_LOCK_PROJECT_SQL.format(project=Project._meta.db_table), [project.pk])
    sql = _FILE_CHECKS_SQL.format(
        columns=select_list(Project, "project"),
        file=File._meta.db_table,
        registry=FilenameRegistry._meta.db_table,
        project=Project._meta.db_table,
        release=Release._meta.db_table,
    )
    closed_before = timezone.now() - timedelta(days=settings.UPLOAD_RELEASE_MAX_AGE_DAYS)
    params = [
        new_file.filename,
        new_file.blake2_256_digest,
        new_file.filename,
        connection.ops.adapt_datetimefield_value(closed_before),
        File.PackageType.SDIST.value,
        canonical_version,
        project.pk,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    split = column_count(Project)
    clashing, registered, release_id, quarantined_version, closed, has_sdist = row[split:]
    return HeldProject(
        project=row_instance(Project, row[:split]),
        clashing_file_id=clashing,
        is_filename_registered=bool(registered),
        release_id=release_id,
        is_release_closed=bool(closed),
        release_has_sdist=bool(has_sdist),
        quarantined_release_version=quarantined_version,
    )


def file_exists_error(new_file: NewFile) -> FileRejectedError:
    """The refusal of a filename or content another file holds (also a lost insert race)."""
    return FileRejectedError(
        f"File already exists ('{new_file.filename}', with blake2_256 hash "
        f"'{new_file.blake2_256_digest}'). {FILE_REUSE_HELP}"
    )


def check_new_file(*, held: HeldProject, new_file: NewFile) -> File | None:
    """Apply the project's rules to a new file; return the identical file if already there.

    Raise FileRejectedError for a project or release that takes no uploads (archived,
    quarantined), a filename or content clash, a deleted filename, a project over its total
    size, a release too old for new files, or a second sdist.
    """
    if refusal := upload_refusal(
        project=held.project, quarantined_release_version=held.quarantined_release_version
    ):
        raise FileRejectedError(refusal, status=403)
    if held.clashing_file_id is not None:
        existing = File.objects.select_related("release").get(pk=held.clashing_file_id)
        # Only a file of this very project is "already there": the same bytes published by
        # another project are that project's file, and this upload may not claim them.
        if (
            existing.release.project_id == held.project.pk
            and existing.filename == new_file.filename
            and existing.sha256_digest == new_file.sha256_digest
            and existing.blake2_256_digest == new_file.blake2_256_digest
        ):
            return existing
        raise file_exists_error(new_file)
    if held.is_filename_registered:
        raise FileRejectedError(
            "This filename was previously used by a file that has since been deleted. Use a "
            "different version."
        )
    project = held.project
    limit = project_size_limit(project)
    if project.total_size + new_file.size > limit:
        raise FileRejectedError(project_too_large_message(project.name, limit))
    if held.release_id is None:
        return None
    if held.is_release_closed:
        raise FileRejectedError(
            f"Uploading new files to releases older than {settings.UPLOAD_RELEASE_MAX_AGE_DAYS} "
            "days is not allowed. Publish a new version instead."
        )
    if new_file.packagetype == File.PackageType.SDIST and held.release_has_sdist:
        raise FileRejectedError(
            "Only one sdist may be uploaded per release. Publish a new version to change it."
        )
    return None


def _release_event_data(release: NewRelease, event_data: dict[str, Any]) -> dict[str, Any]:
    return {
        **event_data,
        "version": release.version,
        "canonical_version": release.canonical_version,
    }


def create_release(
    *,
    project: Project,
    release: NewRelease,
    actor: User | None,
    request: HttpRequest | None = None,
    event_data: dict[str, Any],
) -> Release:
    """Create the release `release` of `project` and record its event, in the caller's
    transaction. `event_data` (who uploaded, how) goes into the event with the version."""
    require_transaction("create_release")
    # Every upload writes its rows so: each statement is built once per process, not per row.
    created = insert_row(
        Release(
            project=project,
            version=release.version,
            canonical_version=release.canonical_version,
            summary=release.summary,
            requires_python=release.requires_python,
            metadata=release.metadata,
            uploaded_by=actor,
        )
    )
    record_event(
        event_type=EventType.PROJECT_RELEASE_ADD,
        actor=actor,
        request=request,
        project=project,
        data=_release_event_data(release, event_data),
    )
    return created


def add_file(
    *,
    project: Project,
    release_id: int,
    release: NewRelease,
    new_file: NewFile,
    actor: User | None,
    request: HttpRequest | None = None,
    event_data: dict[str, Any],
) -> File:
    """Add the row of `new_file` to release `release_id` (of version `release`) of `project`.

    In the caller's transaction, which holds the project row (`hold_project_for_file`) and
    checked the file (`check_new_file`): the File row at its content-addressed path, the
    filename in the registry (never to be used again), the project's total size, its serial and
    the audit event. The caller stores the object at `File.path` before it commits. A
    concurrent upload that took the filename or a digest after the check fails the insert with
    IntegrityError, which must roll the whole transaction back (see `file_exists_error`).
    """
    require_transaction("add_file")
    file = insert_row(
        File(
            release_id=release_id,
            filename=new_file.filename,
            packagetype=new_file.packagetype,
            python_version=new_file.python_version,
            requires_python=new_file.requires_python,
            size=new_file.size,
            md5_digest=new_file.md5_digest,
            sha256_digest=new_file.sha256_digest,
            blake2_256_digest=new_file.blake2_256_digest,
            path=storage_path_for(
                blake2_256_digest=new_file.blake2_256_digest, filename=new_file.filename
            ),
            metadata_sha256_digest=new_file.metadata_sha256_digest,
            uploaded_by=actor,
            uploaded_via=(request.META.get("HTTP_USER_AGENT", "") if request else "")[:255],
        )
    )
    insert_row(FilenameRegistry(filename=new_file.filename))
    bump_serial(project=project, size_change=new_file.size)
    # Two INSERTs, not one bulk_create: Django's bulk insert costs more for two rows than two
    # plain inserts (measured on PostgreSQL).
    record_event(
        event_type=EventType.PROJECT_FILE_ADD,
        actor=actor,
        request=request,
        project=project,
        data={
            **_release_event_data(release, event_data),
            "filename": new_file.filename,
            "packagetype": new_file.packagetype,
            "sha256_digest": new_file.sha256_digest,
        },
    )
    return file


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

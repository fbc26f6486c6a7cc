"""What may be inside a distribution file, checked without extracting it.

A wheel (and a `.zip` sdist) is first walked byte by byte by `zip_structure`, which refuses what
ZIP readers could read differently and confirms every member's sizes and CRC (so declared sizes
cannot lie, and a bomb is refused by them before anything is inflated); a file that is a zip and
a tar at once is refused before that. Only then does `zipfile` open it to read the few small
members needed, with a cap on the bytes read. A `.tar.gz` sdist has to be
decompressed to list it, so that is bounded too: by the bytes actually decompressed (headers,
pax and long-name records included, not only the sizes members declare) and by the number of
members; its headers are walked by `tar_structure`, which refuses what tar readers disagree on.
Both kinds of archive are refused past MAX_ARCHIVE_MEMBERS entries, so a flood of empty entries
costs neither time nor memory beyond the cap.
"""

import configparser
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.metadata import Metadata
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from publishing.upload.archives.tar_structure import (
    DecompressedTooLargeError,
    UnreadableGzipError,
    tar_member_names,
)
from publishing.upload.archives.zip_structure import (
    TooManyMembersError,
    UnpackedTooLargeError,
    check_zip_structure,
)
from publishing.upload.errors import UploadError

INVALID_FILE = "Invalid distribution file."
# A zip is a bomb when it unpacks to more than 64 MiB at a ratio above 50 (PyPI's numbers).
BOMB_MIN_SIZE = 64 * 1024 * 1024
BOMB_MAX_RATIO = 50
# Largest METADATA/WHEEL/RECORD/PKG-INFO read from an archive.
MEMBER_READ_LIMIT = 16 * 1024 * 1024
# Most entries a wheel or sdist may hold. Real distributions stay well below it (plotly's 5.x
# wheel and sdist, among the biggest by count, hold about 17,000 files); a "header bomb" of
# hundreds of thousands of empty tar members is refused once this many were read (about two
# seconds of parsing at most, and outside any database lock).
MAX_ARCHIVE_MEMBERS = 30_000
TOO_MANY_MEMBERS = (
    f"The archive holds more than {MAX_ARCHIVE_MEMBERS:,} files. Leave generated, test or data "
    "files out of the distribution."
)
# What reading a damaged zip member may raise: a bad CRC or header (BadZipFile), an unsupported
# feature (NotImplementedError, RuntimeError), corrupt deflate data (zlib.error), a truncated
# file (EOFError, OSError).
_ZIP_READ_ERRORS = (
    zipfile.BadZipFile,
    RuntimeError,
    NotImplementedError,
    zlib.error,
    EOFError,
    OSError,
)
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class WheelContents:
    metadata: bytes


def _invalid(reason: str) -> UploadError:
    return UploadError(f"{INVALID_FILE} {reason}")


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        with archive.open(info) as member:
            data = member.read(MEMBER_READ_LIMIT + 1)
    except _ZIP_READ_ERRORS:
        raise _invalid(
            f"The member {info.filename} cannot be read: the archive is damaged. Build the file "
            "again and upload the new one."
        ) from None
    if len(data) > MEMBER_READ_LIMIT:
        raise _invalid(f"The member {info.filename} is too large.")
    return data


def _open_zip(path: str) -> zipfile.ZipFile:
    with Path(path).open("rb") as handle:
        head = handle.read(512)
        # A file that also parses as a tar or a gzip stream is a polyglot: tools would disagree
        # on what it contains.
        if head.startswith(_GZIP_MAGIC) or _looks_like_tar(head):
            raise _invalid("The file is both a zip archive and another archive format.")
        try:
            check_zip_structure(
                handle,
                max_members=MAX_ARCHIVE_MEMBERS,
                max_unpacked_size=_unpacked_limit(handle.seek(0, 2)),
            )
        except TooManyMembersError:
            raise _invalid(TOO_MANY_MEMBERS) from None
        except UnpackedTooLargeError:
            raise _invalid(f"File exceeds compression ratio of {BOMB_MAX_RATIO}.") from None
    try:
        return zipfile.ZipFile(path)
    except (*_ZIP_READ_ERRORS, ValueError):
        # Walked and found sound, yet CPython refuses it: readers disagree, so refuse it too.
        raise _invalid("The file is not a valid zip archive.") from None


def _unpacked_limit(packed: int) -> int:
    """The most an archive of `packed` bytes may unpack to (PyPI's bomb rule)."""
    return max(BOMB_MIN_SIZE, BOMB_MAX_RATIO * max(packed, 1))


def _looks_like_tar(head: bytes) -> bool:
    """Whether the first block reads as a tar header: ustar magic, or a v7 header's checksum.

    A ZIP's first 512 bytes are chosen by its first member's name and extra field, so they can
    form a valid old-style (v7) tar header, which `tarfile` opens without any magic.
    """
    if len(head) < 512:
        return False
    if head[257:262] == b"ustar":
        return True
    try:
        declared = int(head[148:156].strip(b" \x00") or b"-1", 8)
    except ValueError:
        return False
    computed = sum(head[:148]) + 8 * 0x20 + sum(head[156:512])
    return declared == computed


def check_wheel(
    path: str, *, filename: str, dist_info: str, name: str, version: Version, requires_dist: list
) -> WheelContents:
    """Check a wheel's members and its METADATA against the form; return the METADATA bytes."""
    with _open_zip(path) as archive:
        members = {info.filename: info for info in archive.infolist()}
        for required in ("WHEEL", "METADATA", "RECORD"):
            if f"{dist_info}/{required}" not in members:
                raise UploadError(
                    f"Wheel '{filename}' does not contain the required {required} file: "
                    f"{dist_info}/{required}"
                )
        metadata = _read_member(archive, members[f"{dist_info}/METADATA"])
        _read_member(archive, members[f"{dist_info}/WHEEL"])
        entry_points = members.get(f"{dist_info}/entry_points.txt")
        if entry_points is not None:
            _check_entry_points(_read_member(archive, entry_points), filename=filename)
    _check_wheel_metadata(
        metadata, filename=filename, name=name, version=version, requires_dist=requires_dist
    )
    return WheelContents(metadata=metadata)


def _check_entry_points(data: bytes, *, filename: str) -> None:
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    try:
        parser.read_string(data.decode("utf-8"))
    except (configparser.Error, UnicodeDecodeError):
        raise UploadError(
            f"Wheel '{filename}' has invalid entry points defined in the entry_points.txt file. "
            "Fix the entry points in the project's configuration and rebuild the wheel."
        ) from None


def _check_wheel_metadata(
    data: bytes, *, filename: str, name: str, version: Version, requires_dist: list
) -> None:
    try:
        metadata = Metadata.from_email(data, validate=False)
        wheel_name = canonicalize_name(metadata.name)
        wheel_version = Version(str(metadata.version))
        wheel_requires = sorted(str(Requirement(str(r))) for r in metadata.requires_dist or [])
    except (ExceptionGroup, ValueError, InvalidVersion, InvalidRequirement, TypeError):
        raise _invalid(f"The METADATA file of wheel '{filename}' cannot be parsed.") from None
    if wheel_name != canonicalize_name(name) or wheel_version != version:
        raise _invalid(
            f"The wheel's METADATA names '{metadata.name} {metadata.version}' but the upload "
            f"says '{name} {version}'; upload the metadata of the wheel itself."
        )
    form_requires = sorted(str(Requirement(str(r))) for r in requires_dist)
    if wheel_requires != form_requires:
        raise _invalid(
            "The wheel's METADATA lists other Requires-Dist entries than the upload; upload the "
            "metadata of the wheel itself."
        )


def check_zip_sdist(path: str) -> None:
    with _open_zip(path) as archive:
        names = archive.namelist()
    _check_sdist_layout(names)


def check_tar_sdist(path: str) -> None:
    """Check a `.tar.gz` sdist: its structure (`tar_structure`), its size, one top dir, PKG-INFO."""
    with Path(path).open("rb") as handle:
        head = handle.read(2)
    if head != _GZIP_MAGIC:
        raise _invalid("The file is not a gzip-compressed tar archive.")
    if zipfile.is_zipfile(path):
        raise _invalid("The file is both a tar archive and a zip archive.")
    packed = _file_size(path)
    layout = _SdistLayout()
    count = 0
    try:
        with Path(path).open("rb") as handle:
            # Every decompressed byte (headers, pax and long-name records, skipped contents)
            # counts towards the bound, not only the sizes members declare.
            for name in tar_member_names(handle, limit=_unpacked_limit(packed)):
                count += 1
                if count > MAX_ARCHIVE_MEMBERS:
                    raise _invalid(TOO_MANY_MEMBERS)
                layout.add(name)
    except DecompressedTooLargeError:
        raise _invalid(f"File exceeds compression ratio of {BOMB_MAX_RATIO}.") from None
    except (UnreadableGzipError, OSError):
        raise _invalid("The file is not a readable tar.gz archive.") from None
    layout.check()


def _file_size(path: str) -> int:
    with Path(path).open("rb") as handle:
        return handle.seek(0, 2)


class _SdistLayout:
    """The top-level directories an sdist's members live in, and which of them hold PKG-INFO.

    Fed one member name at a time; keeps no other per-member state.
    """

    def __init__(self) -> None:
        self.tops: set[str] = set()
        self.tops_with_pkg_info: set[str] = set()

    def add(self, name: str) -> None:
        parts = PurePosixPath(name).parts
        if not parts:
            return
        self.tops.add(parts[0])
        if len(self.tops) > 1:
            raise _invalid("An sdist must contain exactly one top-level directory.")
        if len(parts) == 2 and parts[1] == "PKG-INFO":
            self.tops_with_pkg_info.add(parts[0])

    def check(self) -> None:
        if len(self.tops) != 1:
            raise _invalid("An sdist must contain exactly one top-level directory.")
        (top,) = self.tops
        if top not in self.tops_with_pkg_info:
            raise _invalid(f"An sdist must contain {top}/PKG-INFO.")


def _check_sdist_layout(names: list[str]) -> None:
    layout = _SdistLayout()
    for name in names:
        layout.add(name)
    layout.check()

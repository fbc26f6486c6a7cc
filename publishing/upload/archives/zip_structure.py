"""A ZIP (wheel or `.zip` sdist) walked record by record, refused where two readers could differ.

A ZIP says most things twice: each member's name, sizes, CRC, flags and method sit in a local
header before its data and again in the central directory near the end, which the end record
points to (ZIP64 adds a second end record and a locator). CPython's `zipfile`, and so pip, reads
the central directory; uv and other streaming readers follow the local headers; a reader that
searches for the end record from the front, or trusts its offsets rather than its position, sees
yet another directory. So this module reads the bytes itself and accepts only a ZIP in which every
reader must see the same members: each byte of the file belongs to exactly one record, in order
(local header and data for each entry, the central directory, the ZIP64 end record and locator if
any, the end record and its comment), each local header agrees with its central-directory entry,
each member's data inflates to exactly its declared size and CRC, and nothing is encrypted,
described after its data (data descriptors), compressed other than stored or deflate, or is
anything but a regular file or a directory. Everything else is refused with
`ZIP archive not accepted: <reason>.`

Memory stays bounded: the central directory is read record by record (names capped at
`member_names.MAX_NAME_BYTES`), data is checked in chunks, and only a few fields are kept per
entry, under the caller's member cap. The declared sizes are checked against the caller's
unpacked-size limit before any data is inflated, and inflating confirms them, so a bomb cannot
hide behind them.
"""

import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from publishing.upload.archives.member_names import (
    member_name_key,
    member_name_problem,
    name_encoding_problem,
    printable_name,
    twin_problem,
)
from publishing.upload.errors import UploadError

_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
_END = struct.Struct("<4sHHHHIIH")
_END64 = struct.Struct("<4sQHHIIQQQQ")
_LOCATOR = struct.Struct("<4sIQI")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_CENTRAL_SIGNATURE = b"PK\x01\x02"
_END_SIGNATURE = b"PK\x05\x06"
_END64_SIGNATURE = b"PK\x06\x06"
_LOCATOR_SIGNATURE = b"PK\x06\x07"
_SIGNATURES = (
    _LOCAL_SIGNATURE,
    _CENTRAL_SIGNATURE,
    _END_SIGNATURE,
    _END64_SIGNATURE,
    _LOCATOR_SIGNATURE,
    b"PK\x07\x08",
)
# The ZIP64 end record's size field counts the bytes after it: 44 without extensible data.
_END64_RECORD_SIZE = _END64.size - 12
_MAX_COMMENT = 0xFFFF
_U16_SENTINEL = 0xFFFF
_U32_SENTINEL = 0xFFFFFFFF
_ZIP64_EXTRA = 0x0001
_UNICODE_PATH_EXTRA = 0x7075
_STORED, _DEFLATED = 0, 8
# CPython refuses to open a member needing a later version than 6.3.
_MAX_VERSION_NEEDED = 63
_ENCRYPTION_FLAGS = 0x0001 | 0x0040 | 0x2000  # encrypted, strongly encrypted, masked headers
_DATA_DESCRIPTOR_FLAG = 0x0008
_PATCHED_FLAG = 0x0020
# Deflate's two level bits, and bit 11: the name is UTF-8.
_ALLOWED_FLAGS = 0x0002 | 0x0004 | 0x0800
_UTF8_FLAG = 0x0800
_UNIX_HOST = 3
_FILE_TYPE_MASK = 0o170000
_REGULAR, _DIRECTORY = 0o100000, 0o040000
_REFUSED_FILE_TYPES = {
    0o120000: "is a symbolic link",
    0o020000: "is a character device",
    0o060000: "is a block device",
    0o010000: "is a FIFO",
    0o140000: "is a socket",
}
_CHUNK = 64 * 1024


class TooManyMembersError(Exception):
    """The end record declares more entries than the caller's cap."""


class UnpackedTooLargeError(Exception):
    """The entries' declared sizes add up to more than the caller's limit."""


def refusal(reason: str) -> UploadError:
    """The error refusing a ZIP archive for `reason` (a clause without its final period)."""
    return UploadError(f"ZIP archive not accepted: {reason}.")


@dataclass(frozen=True)
class _Entry:
    """What a central-directory entry says, with ZIP64 values applied."""

    name: str
    raw_name: bytes
    version_needed: int
    flags: int
    method: int
    crc: int
    compressed_size: int
    size: int
    header_offset: int

    @property
    def shown(self) -> str:
        return printable_name(self.name)


@dataclass(frozen=True)
class _Directory:
    offset: int
    size: int
    entries: int
    # Where the central directory must end: at the ZIP64 end record if there is one.
    end: int


def check_zip_structure(handle: BinaryIO, *, max_members: int, max_unpacked_size: int) -> None:
    """Refuse (UploadError) a ZIP whose readers could disagree; raise TooManyMembersError or
    UnpackedTooLargeError past the caller's limits, before any member's data is read."""
    file_size = handle.seek(0, 2)
    directory = _read_end_records(handle, file_size)
    if directory.entries > max_members:
        raise TooManyMembersError
    entries = _read_central_directory(handle, directory)
    if sum(entry.size for entry in entries) > max_unpacked_size:
        raise UnpackedTooLargeError
    # Entries must follow one another in central-directory order, with nothing between them.
    position = 0
    starts = {entry.header_offset for entry in entries}
    for entry in entries:
        if entry.header_offset != position:
            raise refusal(_gap_problem(position, entry, starts))
        position = _check_local_entry(handle, entry, directory)
    if position != directory.offset:
        raise refusal(
            f"{directory.offset - position} bytes that belong to no entry come before the "
            "central directory"
        )


def _read_end_records(handle: BinaryIO, file_size: int) -> _Directory:
    """The central directory's place and size, from end records that agree with each other."""
    tail_start = max(0, file_size - _END.size - _MAX_COMMENT)
    handle.seek(tail_start)
    tail = handle.read()
    # The last signature is the one CPython reads; the comment after it is then free of another.
    found = tail.rfind(_END_SIGNATURE)
    if found < 0 or len(tail) - found < _END.size:
        raise refusal("the file has no end-of-central-directory record (it is not a ZIP archive)")
    end_position = tail_start + found
    (_, disk, directory_disk, disk_entries, entries, size, offset, comment_length) = _END.unpack(
        tail[found : found + _END.size]
    )
    comment = tail[found + _END.size :]
    if _earlier_end_record(tail, found):
        raise refusal("the file holds more than one end-of-central-directory record")
    if len(comment) != comment_length:
        raise refusal(
            f"the end record's comment declares {comment_length} bytes but {len(comment)} follow it"
        )
    if any(signature in comment for signature in _SIGNATURES):
        raise refusal("the archive comment holds a ZIP record signature")
    if disk or directory_disk or disk_entries != entries:
        raise refusal("the end record describes an archive split over several disks")
    directory = _Directory(offset=offset, size=size, entries=entries, end=end_position)
    if end_position >= _LOCATOR.size:
        handle.seek(end_position - _LOCATOR.size)
        locator = handle.read(_LOCATOR.size)
        if locator.startswith(_LOCATOR_SIGNATURE):
            return _read_zip64_end(handle, locator, end_position - _LOCATOR.size, directory)
    if entries == _U16_SENTINEL or _U32_SENTINEL in (size, offset):
        raise refusal("the end record refers to a ZIP64 end record that is not there")
    return directory


def _earlier_end_record(tail: bytes, found: int) -> bool:
    """Whether an end record before the one at `found` ends where that one starts, or whose
    comment ends where the file does: a reader that searches from the front reads that one."""
    position = tail.rfind(_END_SIGNATURE, 0, found)
    while position >= 0:
        if position + _END.size <= found:
            (comment_length,) = struct.unpack_from("<H", tail, position + _END.size - 2)
            if position + _END.size + comment_length in (found, len(tail)):
                return True
        position = tail.rfind(_END_SIGNATURE, 0, position)
    return False


def _read_zip64_end(
    handle: BinaryIO, locator: bytes, locator_position: int, end: _Directory
) -> _Directory:
    _, end64_disk, end64_offset, disks = _LOCATOR.unpack(locator)
    position = locator_position - _END64.size
    if end64_disk or disks != 1:
        raise refusal("the ZIP64 locator describes an archive split over several disks")
    handle.seek(end64_offset)
    record = handle.read(_END64.size)
    if len(record) != _END64.size or not record.startswith(_END64_SIGNATURE):
        raise refusal("the ZIP64 locator points at bytes that are not a ZIP64 end record")
    (_, record_size, _, _, disk, directory_disk, disk_entries, entries, size, offset) = (
        _END64.unpack(record)
    )
    if record_size != _END64_RECORD_SIZE:
        raise refusal("the ZIP64 end record carries extensible data")
    if end64_offset != position:
        raise refusal("the ZIP64 locator points elsewhere than the ZIP64 end record before it")
    if disk or directory_disk or disk_entries != entries:
        raise refusal("the ZIP64 end record describes an archive split over several disks")
    for field, value, value64, sentinel in (
        ("entry count", end.entries, entries, _U16_SENTINEL),
        ("directory size", end.size, size, _U32_SENTINEL),
        ("directory offset", end.offset, offset, _U32_SENTINEL),
    ):
        if value not in (value64, sentinel):
            raise refusal(f"the end record and the ZIP64 end record disagree on the {field}")
    return _Directory(offset=offset, size=size, entries=entries, end=position)


def _read_central_directory(handle: BinaryIO, directory: _Directory) -> list[_Entry]:
    if directory.offset + directory.size != directory.end:
        raise refusal("the central directory does not end where the end record begins")
    handle.seek(directory.offset)
    entries: list[_Entry] = []
    names_by_key: dict[str, str] = {}
    read = 0
    while read < directory.size:
        if len(entries) == directory.entries:
            raise refusal(
                f"the central directory holds more entries than the {directory.entries} the end "
                "record counts"
            )
        entry, length = _read_central_entry(handle, directory.size - read)
        read += length
        key = member_name_key(entry.name)
        if key in names_by_key:
            raise refusal(twin_problem(names_by_key[key], entry.name))
        names_by_key[key] = entry.name
        entries.append(entry)
    if len(entries) != directory.entries:
        raise refusal(
            f"the end record counts {directory.entries} entries but the central directory "
            f"holds {len(entries)}"
        )
    return entries


def _read_central_entry(handle: BinaryIO, available: int) -> tuple[_Entry, int]:
    fixed = handle.read(_CENTRAL.size)
    if len(fixed) < _CENTRAL.size or _CENTRAL.size > available:
        raise refusal("the central directory ends in the middle of an entry")
    (
        signature,
        made_by,
        version_needed,
        flags,
        method,
        _time,
        _date,
        crc,
        compressed_size,
        size,
        name_length,
        extra_length,
        comment_length,
        disk,
        _internal,
        external,
        header_offset,
    ) = _CENTRAL.unpack(fixed)
    if signature != _CENTRAL_SIGNATURE:
        raise refusal("the central directory holds bytes that are not a central-directory entry")
    length = _CENTRAL.size + name_length + extra_length + comment_length
    if length > available:
        raise refusal("the central directory ends in the middle of an entry")
    raw_name = handle.read(name_length)
    extra = handle.read(extra_length)
    if comment_length:
        raise refusal(f"the central-directory entry of {_shown(raw_name, flags)} carries a comment")
    name = _decode_name(raw_name, flags)
    extras = _extra_fields(extra, name)
    _check_unicode_path(extras, raw_name, name)
    values = _zip64_values(
        extras.get(_ZIP64_EXTRA),
        name,
        sizes=(size, compressed_size),
        header_offset=header_offset,
        disk=disk,
    )
    size, compressed_size, header_offset, disk = values
    if disk:
        raise refusal(f"the entry {printable_name(name)} lies on another disk")
    entry = _Entry(
        name=name,
        raw_name=raw_name,
        version_needed=version_needed,
        flags=flags,
        method=method,
        crc=crc,
        compressed_size=compressed_size,
        size=size,
        header_offset=header_offset,
    )
    _check_entry_kind(entry, made_by=made_by, external=external)
    _check_flags_and_method(entry)
    return entry, length


def _shown(raw_name: bytes, flags: int) -> str:
    return printable_name(raw_name.decode("utf-8" if flags & _UTF8_FLAG else "cp437", "replace"))


def _decode_name(raw_name: bytes, flags: int) -> str:
    if not flags & _UTF8_FLAG and not raw_name.isascii():
        # CPython reads such a name as cp437, other readers as UTF-8 or the local code page.
        raise refusal(
            f"the member name {_shown(raw_name, flags)} is not ASCII and the entry does not set "
            "the UTF-8 flag"
        )
    if problem := name_encoding_problem(raw_name):
        raise refusal(problem)
    name = raw_name.decode("utf-8")
    if problem := member_name_problem(name, is_dir=name.endswith("/")):
        raise refusal(problem)
    return name


def _extra_fields(extra: bytes, name: str) -> dict[int, bytes]:
    """The extra field's blocks by id; ZIP64 and Unicode-path blocks may appear only once."""
    blocks: dict[int, bytes] = {}
    position = 0
    while position < len(extra):
        if len(extra) - position < 4:
            raise refusal(f"the extra field of {printable_name(name)} is malformed")
        block_id, length = struct.unpack_from("<HH", extra, position)
        data = extra[position + 4 : position + 4 + length]
        if len(data) != length:
            raise refusal(f"the extra field of {printable_name(name)} is malformed")
        if block_id in (_ZIP64_EXTRA, _UNICODE_PATH_EXTRA) and block_id in blocks:
            raise refusal(
                f"the entry {printable_name(name)} carries the extra field 0x{block_id:04x} twice"
            )
        blocks.setdefault(block_id, data)
        position += 4 + length
    return blocks


def _check_unicode_path(extras: dict[int, bytes], raw_name: bytes, name: str) -> None:
    """A Unicode-path extra (0x7075) is accepted only when it names the entry as its name does.

    CPython 3.11 ignores it, 3.12+ uses it when its CRC matches the raw name, Info-ZIP stops at
    one that does not match: a differing one gives each reader its own name.
    """
    data = extras.get(_UNICODE_PATH_EXTRA)
    if data is None:
        return
    valid = (
        len(data) >= 5
        and data[0] == 1
        and int.from_bytes(data[1:5], "little") == zlib.crc32(raw_name)
        and data[5:] == name.encode()
    )
    if not valid:
        raise refusal(
            f"the entry {printable_name(name)} carries a Unicode-path extra field that names it "
            "differently"
        )


def _zip64_values(
    data: bytes | None, name: str, *, sizes: tuple[int, int], header_offset: int, disk: int
) -> tuple[int, int, int, int]:
    """The central entry's sizes, offset and disk with ZIP64 values applied.

    The extra holds a value for exactly the fields set to their sentinel, in APPNOTE's order;
    a value for a field that is not, or none for one that is, lets readers pick different sizes.
    """
    fields = [*sizes, header_offset]
    wanted = [index for index, value in enumerate(fields) if value == _U32_SENTINEL]
    expected = 8 * len(wanted) + (4 if disk == _U16_SENTINEL else 0)
    if (data is None and expected) or (data is not None and len(data) != expected):
        raise refusal(
            f"the ZIP64 extra field of {printable_name(name)} does not match the fields its "
            "entry marks as ZIP64"
        )
    values = data or b""
    for slot, index in enumerate(wanted):
        fields[index] = int.from_bytes(values[8 * slot : 8 * slot + 8], "little")
    if disk == _U16_SENTINEL:
        disk = int.from_bytes(values[8 * len(wanted) :], "little")
    return fields[0], fields[1], fields[2], disk


def _check_entry_kind(entry: _Entry, *, made_by: int, external: int) -> None:
    is_dir = entry.name.endswith("/")
    if is_dir and entry.size:
        raise refusal(f"the directory entry {entry.shown} holds data")
    if made_by >> 8 != _UNIX_HOST:
        return
    file_type = (external >> 16) & _FILE_TYPE_MASK
    if file_type in _REFUSED_FILE_TYPES:
        raise refusal(f"the member {entry.shown} {_REFUSED_FILE_TYPES[file_type]}")
    if file_type not in (0, _REGULAR, _DIRECTORY):
        raise refusal(f"the member {entry.shown} has the unknown file type 0o{file_type:o}")
    if file_type == _DIRECTORY and not is_dir:
        raise refusal(f"the member {entry.shown} is marked as a directory but its name lacks '/'")
    if file_type == _REGULAR and is_dir:
        raise refusal(f"the member {entry.shown} ends in '/' but is marked as a regular file")


def _check_flags_and_method(entry: _Entry) -> None:
    if entry.flags & _ENCRYPTION_FLAGS:
        raise refusal(f"the member {entry.shown} is encrypted; build the file without encryption")
    if entry.flags & _DATA_DESCRIPTOR_FLAG:
        raise refusal(
            f"the member {entry.shown} uses a data descriptor (its sizes and CRC follow its data)"
        )
    if entry.flags & _PATCHED_FLAG:
        raise refusal(f"the member {entry.shown} is marked as patched data")
    if unknown := entry.flags & ~_ALLOWED_FLAGS:
        raise refusal(f"the member {entry.shown} sets the unknown flag bits 0x{unknown:04x}")
    if entry.method not in (_STORED, _DEFLATED):
        raise refusal(
            f"the member {entry.shown} uses compression method {entry.method}; only stored (0) "
            "and deflate (8) are accepted"
        )
    if entry.version_needed > _MAX_VERSION_NEEDED:
        raise refusal(
            f"the member {entry.shown} needs ZIP version {entry.version_needed // 10}."
            f"{entry.version_needed % 10}, later than 6.3"
        )
    if entry.method == _STORED and entry.size != entry.compressed_size:
        raise refusal(f"the stored member {entry.shown} declares two different sizes")


def _gap_problem(position: int, entry: _Entry, starts: set[int]) -> str:
    if entry.header_offset < position or position in starts:
        return (
            f"the entry {entry.shown} does not start where the entry listed before it ends "
            "(entries overlap or are out of order)"
        )
    if position == 0:
        return f"{entry.header_offset} bytes that belong to no entry come before the first entry"
    return (
        f"{entry.header_offset - position} bytes that belong to no entry come before {entry.shown}"
    )


def _check_local_entry(handle: BinaryIO, entry: _Entry, directory: _Directory) -> int:
    """Check the local header and data of `entry`; return where the next record must start."""
    handle.seek(entry.header_offset)
    fixed = handle.read(_LOCAL.size)
    if len(fixed) < _LOCAL.size or not fixed.startswith(_LOCAL_SIGNATURE):
        raise refusal(
            f"the central directory points {entry.shown} at bytes that are not a local header"
        )
    (
        _,
        version_needed,
        flags,
        method,
        _time,
        _date,
        crc,
        compressed_size,
        size,
        name_length,
        extra_length,
    ) = _LOCAL.unpack(fixed)
    raw_name = handle.read(name_length)
    extras = _extra_fields(handle.read(extra_length), entry.name)
    if raw_name != entry.raw_name:
        raise refusal(
            f"the local header of {entry.shown} names another member than its central-directory "
            "entry"
        )
    _check_unicode_path(extras, raw_name, entry.name)
    size, compressed_size = _local_zip64_sizes(
        extras.get(_ZIP64_EXTRA), entry, size, compressed_size
    )
    for field, local, central in (
        ("version needed", version_needed, entry.version_needed),
        ("flags", flags, entry.flags),
        ("compression method", method, entry.method),
        ("CRC-32", crc, entry.crc),
        ("compressed size", compressed_size, entry.compressed_size),
        ("size", size, entry.size),
    ):
        if local != central:
            raise refusal(
                f"the local header of {entry.shown} disagrees with its central-directory entry "
                f"on the {field}"
            )
    data_start = entry.header_offset + _LOCAL.size + name_length + extra_length
    data_end = data_start + entry.compressed_size
    if data_end > directory.offset:
        raise refusal(f"the data of {entry.shown} runs into the central directory")
    _check_data(handle, entry)
    return data_end


def _local_zip64_sizes(
    data: bytes | None, entry: _Entry, size: int, compressed_size: int
) -> tuple[int, int]:
    """A local header's sizes with its ZIP64 extra applied.

    The local ZIP64 extra holds both sizes (APPNOTE 4.5.3). CPython writes it for large members
    and with `force_zip64`, then keeping the real sizes in the 32-bit fields when they fit, so a
    32-bit field must be its sentinel or equal the extra's value.
    """
    if data is None:
        if _U32_SENTINEL in (size, compressed_size):
            raise refusal(f"the local header of {entry.shown} lacks the ZIP64 sizes it refers to")
        return size, compressed_size
    if len(data) != 16:
        raise refusal(f"the local ZIP64 extra field of {entry.shown} is not 16 bytes long")
    size64, compressed_size64 = struct.unpack("<QQ", data)
    if size not in (size64, _U32_SENTINEL) or compressed_size not in (
        compressed_size64,
        _U32_SENTINEL,
    ):
        raise refusal(
            f"the local header of {entry.shown} and its ZIP64 extra field disagree on the sizes"
        )
    return size64, compressed_size64


def _check_data(handle: BinaryIO, entry: _Entry) -> None:
    """The data must be exactly `compressed_size` bytes that unpack to `size` bytes with `crc`.

    CPython stops at the declared size and checks the CRC of that much; a reader of the whole
    deflate stream would write more: so inflating must end exactly at both sizes.
    """
    remaining = entry.compressed_size
    inflater = zlib.decompressobj(-15) if entry.method == _DEFLATED else None
    crc = 0
    produced = 0
    while remaining:
        chunk = handle.read(min(remaining, _CHUNK))
        if not chunk:
            raise refusal(f"the file ends inside the data of {entry.shown}")
        remaining -= len(chunk)
        if inflater is None:
            output = chunk
        else:
            output = _inflate(inflater, chunk, entry, limit=entry.size - produced)
        produced += len(output)
        crc = zlib.crc32(output, crc)
    if inflater is not None and (not inflater.eof or inflater.unused_data):
        problem = "ends before" if not inflater.eof else "continues after"
        raise refusal(f"the deflate stream of {entry.shown} {problem} its compressed size")
    if produced != entry.size:
        raise refusal(f"the data of {entry.shown} unpacks to fewer bytes than its declared size")
    if crc != entry.crc:
        raise refusal(f"the CRC-32 of {entry.shown} does not match its data")


def _inflate(inflater: "zlib._Decompress", chunk: bytes, entry: _Entry, *, limit: int) -> bytes:
    """Inflate `chunk`, refusing output past `limit` bytes (the rest of the declared size)."""
    try:
        output = inflater.decompress(chunk, limit + 1)
    except zlib.error:
        raise refusal(f"the deflate data of {entry.shown} is corrupt") from None
    if len(output) > limit or inflater.unconsumed_tail:
        raise refusal(f"the data of {entry.shown} unpacks to more bytes than its declared size")
    return output

"""A `.tar.gz` sdist walked header by header, refused where two tar readers could disagree.

`tarfile`, GNU tar, libarchive, Go's and Rust's readers agree on plain ustar members and differ
on nearly everything else: which of a PAX `path`, a GNU `L` record and the ustar name wins, what
an unparsable PAX number means (CPython reads 0), whether a directory's data is skipped or read as
the next header, whether the archive ends at the first zero block, and what a second gzip member
holds. So this module reads the decompressed bytes itself, one 512-byte header at a time, and
accepts only what the build backends write (ustar or GNU headers, regular files, directories, hard
links to earlier files and symbolic links that stay inside the top directory, PAX `x` records with
the keys tarfile writes, GNU long names, a global header holding only a `comment`). Everything else
is refused with `tar archive not accepted: <reason>.`

Memory stays bounded: the gzip stream is inflated in chunks, an extended header is held only up
to MAX_EXTENDED_HEADER_SIZE, and per member only its name, key and kind are kept (for twins and
links), under the caller's member cap.
"""

import bisect
import re
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from publishing.upload.archives.member_names import (
    member_name_key,
    member_name_problem,
    name_encoding_problem,
    printable_name,
    twin_problem,
)
from publishing.upload.errors import UploadError

BLOCK_SIZE = 512
# Largest PAX or GNU long-name record accepted; tarfile writes a few hundred bytes.
MAX_EXTENDED_HEADER_SIZE = 1024 * 1024
_READ_CHUNK = 64 * 1024
_ZERO_BLOCK = bytes(BLOCK_SIZE)
_USTAR_MAGIC = b"ustar\x0000"
_GNU_MAGIC = b"ustar  \x00"
_REGULAR_TYPES = frozenset(b"0\x00")
_HARD_LINK, _SYMLINK, _DIRECTORY = ord("1"), ord("2"), ord("5")
_PAX, _PAX_GLOBAL, _GNU_LONG_NAME, _GNU_LONG_LINK = ord("x"), ord("g"), ord("L"), ord("K")
_REFUSED_TYPES = {
    ord("3"): "a character device",
    ord("4"): "a block device",
    ord("6"): "a FIFO",
    ord("7"): "a contiguous file (type '7', which readers treat differently)",
    ord("S"): "a sparse file",
}
# The PAX keys tarfile and the backends write for a member; anything else (xattrs, vendor keys)
# is a key some reader may act on and another ignore.
_PAX_KEYS = frozenset(
    {"path", "linkpath", "size", "mtime", "atime", "ctime", "uid", "gid", "uname", "gname"}
    | {"comment"}
)
_PAX_INTEGER = re.compile(rb"[0-9]+")
_PAX_TIME = re.compile(rb"-?[0-9]+(\.[0-9]+)?")
_PAX_NUMBER_SYNTAX = {
    "size": _PAX_INTEGER,
    "uid": _PAX_INTEGER,
    "gid": _PAX_INTEGER,
    "mtime": _PAX_TIME,
    "atime": _PAX_TIME,
    "ctime": _PAX_TIME,
}
# An octal header number: leading spaces, digits, then NUL or space padding (or empty: zero).
_OCTAL_FIELD = re.compile(rb" *[0-7]* *[\x00 ]*")
# Numeric header fields tarfile parses (it ends the archive early at a field it cannot parse).
_NUMBER_FIELDS = (
    ("mode", 100, 108),
    ("uid", 108, 116),
    ("gid", 116, 124),
    ("mtime", 136, 148),
    ("devmajor", 329, 337),
    ("devminor", 337, 345),
)
_USTAR_MAX_SIZE = 0o77777777777
_DRIVE = re.compile(r"[A-Za-z]:")


class DecompressedTooLargeError(Exception):
    """More bytes came out of the gzip stream than the caller's limit allows."""


class UnreadableGzipError(Exception):
    """The gzip stream is corrupt or ends early."""


def refusal(reason: str) -> UploadError:
    """The error refusing a tar archive for `reason` (a clause without its final period)."""
    return UploadError(f"tar archive not accepted: {reason}.")


class _GzipStream:
    """The decompressed bytes of a single-member gzip file, read in order, at most `limit` of them.

    The member is inflated with a gzip-only `zlib` decompressor, which checks the CRC and length
    trailer and stops at the member's end; what follows in the file (a second member, junk) is
    then seen instead of being silently joined on, as `gzip.open` would.
    """

    def __init__(self, handle: BinaryIO, *, limit: int) -> None:
        self._handle = handle
        self._remaining = limit
        self._inflater = zlib.decompressobj(wbits=31)
        self._buffer = bytearray()
        self._position = 0

    def read(self, size: int) -> bytes:
        """Up to `size` bytes; fewer only at the end of the stream."""
        while len(self._buffer) - self._position < size and not self._inflater.eof:
            self._inflate()
        data = bytes(self._buffer[self._position : self._position + size])
        self._position += len(data)
        if self._position > _READ_CHUNK:
            del self._buffer[: self._position]
            self._position = 0
        return data

    def skip(self, size: int) -> bool:
        """Pass over `size` bytes; False when the stream ends first."""
        while size > 0:
            data = self.read(min(size, _READ_CHUNK))
            if not data:
                return False
            size -= len(data)
        return True

    def rest_is_zero(self) -> bool:
        while data := self.read(_READ_CHUNK):
            if data.count(0) != len(data):
                return False
        return True

    def _inflate(self) -> None:
        compressed = self._inflater.unconsumed_tail or self._handle.read(_READ_CHUNK)
        if not compressed:
            raise UnreadableGzipError
        try:
            data = self._inflater.decompress(compressed, _READ_CHUNK)
        except zlib.error:
            raise UnreadableGzipError from None
        self._remaining -= len(data)
        if self._remaining < 0:
            raise DecompressedTooLargeError
        self._buffer += data
        if self._inflater.eof:
            self._check_after_member(self._inflater.unused_data)

    def _check_after_member(self, following: bytes) -> None:
        # GNU gzip and CPython skip NUL padding after a member; anything else is another member
        # (which `gzip` would append to the tar stream) or junk.
        while True:
            stripped = following.lstrip(b"\x00")
            if stripped.startswith(b"\x1f\x8b"):
                raise refusal("the file holds a second gzip member after the first")
            if stripped:
                raise refusal("the file has data after the end of its gzip stream")
            following = self._handle.read(_READ_CHUNK)
            if not following:
                return


class _Pending:
    """Extended headers read for the member that follows them."""

    def __init__(self) -> None:
        self.pax: dict[str, str] | None = None
        self.long_name: str | None = None
        self.long_link: str | None = None

    def is_empty(self) -> bool:
        return self.pax is None and self.long_name is None and self.long_link is None


class _Member:
    __slots__ = ("kind", "linkname", "name", "size")

    def __init__(self, *, kind: int, name: str, linkname: str, size: int) -> None:
        self.kind = kind
        self.name = name
        self.linkname = linkname
        self.size = size


def tar_member_names(handle: BinaryIO, *, limit: int) -> Iterator[str]:
    """Yield the name of each member of the `.tar.gz` in `handle`, refusing what readers split on.

    Raise UploadError (`tar archive not accepted: ...`) for a structure or name the rules refuse,
    DecompressedTooLargeError past `limit` decompressed bytes, UnreadableGzipError for a damaged
    or truncated gzip stream. The last checks (links that dangle or pass through other links) run
    after the last name is yielded, so a caller must exhaust the iterator.
    """
    stream = _GzipStream(handle, limit=limit)
    walk = _Walk()
    pending = _Pending()
    offset = 0
    while True:
        block = stream.read(BLOCK_SIZE)
        if len(block) < BLOCK_SIZE:
            raise refusal(
                "the archive ends without its end marker (two zero blocks)"
                if not block
                else "the archive ends inside a header"
            )
        if block == _ZERO_BLOCK:
            _check_end(stream, pending)
            walk.finish()
            return
        header = _parse_header(block, offset=offset)
        data_size = header.size
        if header.kind in (_PAX, _PAX_GLOBAL, _GNU_LONG_NAME, _GNU_LONG_LINK):
            data = _read_extended(stream, header.size, offset=offset)
            _add_extended(pending, header.kind, data, offset=offset)
        else:
            member = _apply_pending(header, pending)
            pending = _Pending()
            walk.add(member)
            yield member.name.rstrip("/")
            if not stream.skip(member.size + -member.size % BLOCK_SIZE):
                raise refusal(f"the archive ends inside the data of {printable_name(member.name)}")
            data_size = member.size
        offset += BLOCK_SIZE + data_size + -data_size % BLOCK_SIZE


def _check_end(stream: _GzipStream, pending: _Pending) -> None:
    if not pending.is_empty():
        raise refusal("the archive ends with an extended header that no member follows")
    second = stream.read(BLOCK_SIZE)
    if second != _ZERO_BLOCK:
        raise refusal(
            "a single zero block is followed by more data: readers that stop at the first zero "
            "block see fewer members than the others"
            if second
            else "the archive ends after a single zero block instead of two"
        )
    if not stream.rest_is_zero():
        raise refusal("the archive has data after its end marker (two zero blocks)")


def _parse_header(block: bytes, *, offset: int) -> _Member:
    stored = _octal(block[148:156], what="checksum", offset=offset)
    computed = sum(block[:148]) + 8 * ord(" ") + sum(block[156:])
    if stored != computed:
        raise refusal(f"the header at byte {offset} has a wrong checksum")
    magic = block[257:265]
    if magic not in (_USTAR_MAGIC, _GNU_MAGIC):
        raise refusal(f"the header at byte {offset} is neither ustar nor GNU (magic {magic!r})")
    kind = block[156]
    if kind in _REFUSED_TYPES:
        raise refusal(f"the member at byte {offset} is {_REFUSED_TYPES[kind]}")
    if kind not in _REGULAR_TYPES and kind not in (
        _HARD_LINK,
        _SYMLINK,
        _DIRECTORY,
        _PAX,
        _PAX_GLOBAL,
        _GNU_LONG_NAME,
        _GNU_LONG_LINK,
    ):
        raise refusal(
            f"the member at byte {offset} has type {chr(kind)!r}; only regular files, "
            "directories, hard links and symbolic links are accepted"
        )
    if block[124] in (0x80, 0xFF):
        raise refusal(f"the header at byte {offset} has a base-256 (or negative) size")
    size = _octal(block[124:136], what="size", offset=offset)
    for what, start, end in _NUMBER_FIELDS:
        if block[start] not in (0x80, 0xFF):
            _octal(block[start:end], what=what, offset=offset)
    name = _text_field(block, 0, 100, offset=offset)
    if magic == _USTAR_MAGIC:
        prefix = _text_field(block, 345, 500, offset=offset)
        if prefix:
            name = f"{prefix}/{name}"
    elif block[345:500].count(0) != 155:
        # CPython's tarfile reads these bytes as a ustar prefix whatever the magic; GNU tar
        # reads times and sparse maps there: one header, two names.
        raise refusal(f"the GNU header at byte {offset} has data where ustar keeps a name prefix")
    linkname = _text_field(block, 157, 257, offset=offset)
    return _Member(kind=kind, name=name, linkname=linkname, size=size)


def _octal(field: bytes, *, what: str, offset: int) -> int:
    if not _OCTAL_FIELD.fullmatch(field):
        raise refusal(f"the header at byte {offset} has a {what} field that is not an octal number")
    digits = field.strip(b" \x00")
    return int(digits, 8) if digits else 0


def _text_field(block: bytes, start: int, end: int, *, offset: int) -> str:
    raw, _nul, rest = block[start:end].partition(b"\x00")
    if rest.count(0) != len(rest):
        raise refusal(f"the header at byte {offset} has bytes hidden after a NUL in a name field")
    return _decode_name(raw)


def _decode_name(raw: bytes) -> str:
    if problem := name_encoding_problem(raw):
        raise refusal(problem)
    return raw.decode("utf-8")


def _read_extended(stream: _GzipStream, size: int, *, offset: int) -> bytes:
    if size > MAX_EXTENDED_HEADER_SIZE:
        raise refusal(
            f"the extended header at byte {offset} is larger than "
            f"{MAX_EXTENDED_HEADER_SIZE // (1024 * 1024)} MiB"
        )
    data = stream.read(size)
    if len(data) < size or not stream.skip(-size % BLOCK_SIZE):
        raise refusal(f"the archive ends inside the extended header at byte {offset}")
    return data


def _add_extended(pending: _Pending, kind: int, data: bytes, *, offset: int) -> None:
    where = f"the extended header at byte {offset}"
    if kind == _PAX_GLOBAL:
        if not pending.is_empty():
            raise refusal(f"{where} is a global pax header between a member and its own headers")
        records = _pax_records(data, where=where)
        if set(records) - {"comment"}:
            key = sorted(set(records) - {"comment"})[0]
            raise refusal(
                f"{where} is a global pax header setting {printable_name(key)}, which would apply "
                "to every later member; only 'comment' is accepted there"
            )
        return
    if kind == _PAX:
        if pending.pax is not None:
            raise refusal(f"{where} is a second pax header for one member")
        if pending.long_name is not None or pending.long_link is not None:
            raise refusal(f"{where} mixes a pax header with a GNU long-name record for one member")
        records = _pax_records(data, where=where)
        for key, value in records.items():
            _check_pax_record(key, value, where=where)
        pending.pax = {key: value.decode() for key, value in records.items()}
        return
    _add_gnu_long_name(pending, kind, data, where=where)


def _add_gnu_long_name(pending: _Pending, kind: int, data: bytes, *, where: str) -> None:
    if pending.pax is not None:
        raise refusal(f"{where} mixes a GNU long-name record with a pax header for one member")
    name = data.rstrip(b"\x00")
    if b"\x00" in name:
        raise refusal(f"{where} is a GNU long-name record holding a NUL before its end")
    decoded = _decode_name(name)
    if kind == _GNU_LONG_NAME:
        if pending.long_name is not None:
            raise refusal(f"{where} is a second GNU long-name record for one member")
        pending.long_name = decoded
    else:
        if pending.long_link is not None:
            raise refusal(f"{where} is a second GNU long-link record for one member")
        pending.long_link = decoded


def _pax_records(data: bytes, *, where: str) -> dict[str, bytes]:
    """The `LENGTH KEY=VALUE\\n` records of a pax header; every byte must belong to one."""
    records: dict[str, bytes] = {}
    position = 0
    while position < len(data):
        space = data.find(b" ", position, position + 21)
        digits = data[position:space] if space != -1 else b""
        if not digits or not digits.isdigit():
            raise refusal(f"{where} has a pax record without a decimal length")
        end = position + int(digits)
        if end <= space + 1:
            raise refusal(f"{where} has a pax record whose length is too small")
        if end > len(data):
            raise refusal(f"{where} has a pax record that runs past the end of the header")
        if data[end - 1] != ord("\n"):
            raise refusal(f"{where} has a pax record that does not end with a newline")
        raw_key, equals, value = data[space + 1 : end - 1].partition(b"=")
        if not equals or not raw_key:
            raise refusal(f"{where} has a pax record without a key")
        if b"\x00" in raw_key:
            raise refusal(f"{where} has a pax record with a NUL in its key")
        key = raw_key.decode("utf-8", "replace")
        if key in records:
            raise refusal(f"{where} repeats the pax key {printable_name(key)}")
        records[key] = value
        position = end
    return records


def _check_pax_record(key: str, value: bytes, *, where: str) -> None:
    if key.startswith("GNU.sparse."):
        raise refusal(f"{where} describes a sparse file")
    if key == "hdrcharset":
        raise refusal(f"{where} sets 'hdrcharset', which changes how readers decode names")
    if key not in _PAX_KEYS:
        raise refusal(f"{where} has the pax key {printable_name(key)}, which is not accepted")
    syntax = _PAX_NUMBER_SYNTAX.get(key)
    if syntax is not None and not syntax.fullmatch(value):
        raise refusal(f"{where} has a pax {key!r} that is not a decimal number")
    if key in ("path", "linkpath"):
        _decode_name(value)
        return
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        raise refusal(f"{where} has a pax {key!r} that is not valid UTF-8") from None


def _apply_pending(header: _Member, pending: _Pending) -> _Member:
    pax = pending.pax or {}
    name = pax.get("path", pending.long_name or header.name)
    linkname = pax.get("linkpath", pending.long_link or header.linkname)
    if "size" in pax:
        pax_size = int(pax["size"])
        # The ustar field is trusted only where it can hold the number; a reader that skips by
        # the other one reads file data as headers (CVE-2025-62518).
        if pax_size != header.size and pax_size <= _USTAR_MAX_SIZE:
            raise refusal(
                f"the pax size of {printable_name(name)} ({pax_size}) differs from its header's "
                f"({header.size})"
            )
        header.size = pax_size
    kind = ord("0") if header.kind == 0 else header.kind
    return _Member(kind=kind, name=name, linkname=linkname, size=header.size)


class _Walk:
    """What the member checks need of the members seen so far: names, keys, kinds, links."""

    def __init__(self) -> None:
        self.kinds: dict[str, int] = {}
        self.names_by_key: dict[str, str] = {}
        self.symlinks: list[tuple[str, str]] = []

    def add(self, member: _Member) -> None:
        shown = printable_name(member.name)
        is_dir = member.kind == _DIRECTORY
        if problem := member_name_problem(member.name, is_dir=is_dir):
            raise refusal(problem)
        if member.kind not in (_HARD_LINK, _SYMLINK) and member.linkname:
            raise refusal(f"the member {shown} has a link target but is not a link")
        if member.kind != ord("0") and member.size:
            what = "directory" if is_dir else "link"
            raise refusal(f"the {what} {shown} carries {member.size} bytes of data")
        name = member.name.rstrip("/")
        key = member_name_key(name)
        if key in self.names_by_key:
            raise refusal(twin_problem(self.names_by_key[key], name))
        if member.kind == _HARD_LINK:
            self._check_hard_link(member)
        elif member.kind == _SYMLINK:
            self.symlinks.append((name, self._resolve_symlink(member)))
        self.names_by_key[key] = name
        self.kinds[name] = member.kind

    def _check_hard_link(self, member: _Member) -> None:
        if self.kinds.get(member.linkname) != ord("0"):
            raise refusal(
                f"the hard link {printable_name(member.name)} does not point to an earlier "
                f"regular file (it points to {printable_name(member.linkname)})"
            )

    def _resolve_symlink(self, member: _Member) -> str:
        """The archive path the symlink's target names, if it stays inside the top directory."""
        shown = f"the symbolic link {printable_name(member.name)}"
        target = member.linkname
        if not target or target.startswith("/") or _DRIVE.match(target):
            raise refusal(f"{shown} has an empty or absolute target")
        segments = target.split("/")
        # '.' and '..' are how relative links are written; any other segment follows the rule
        # for member names (no empty segment, control character or backslash).
        if any(s not in (".", "..") and member_name_problem(s) for s in segments):
            raise refusal(
                f"{shown} has the target {printable_name(target)}, which readers resolve "
                "differently"
            )
        parts = member.name.split("/")[:-1]
        for segment in segments:
            if segment == "..":
                parts.pop()
                if not parts:
                    raise refusal(f"{shown} points outside the top directory")
            elif segment != ".":
                parts.append(segment)
        if len(parts) == 1:
            raise refusal(f"{shown} points onto the top directory")
        return "/".join(parts)

    def finish(self) -> None:
        """Refuse links that dangle or pass through another link, and members below a link."""
        if not self.symlinks:
            return
        links = {link for link, _target in self.symlinks}
        for name in self.kinds:
            if any(prefix in links for prefix in _parents(name)):
                raise refusal(f"the member {printable_name(name)} lies below a symbolic link")
        names = sorted(self.kinds)
        for link, target in self.symlinks:
            shown = f"the symbolic link {printable_name(link)}"
            if target in links or any(prefix in links for prefix in _parents(target)):
                raise refusal(f"{shown} points through another link")
            if target not in self.kinds and not _has_descendant(names, target):
                raise refusal(f"{shown} points to {printable_name(target)}, which is no member")


def _parents(name: str) -> Iterator[str]:
    position = name.find("/")
    while position != -1:
        yield name[:position]
        position = name.find("/", position + 1)


def _has_descendant(sorted_names: list[str], directory: str) -> bool:
    """Whether a member lies inside `directory` (a directory without its own entry)."""
    index = bisect.bisect_left(sorted_names, directory + "/")
    return index < len(sorted_names) and sorted_names[index].startswith(directory + "/")

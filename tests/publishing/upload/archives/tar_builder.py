"""Write tar archives byte by byte, so a test can build structures no tar library would write.

Every header field can be overridden with raw bytes; the checksum is computed unless given; PAX
records, GNU long-name records, end markers, record padding and gzip framing are separate pieces
a test puts together.
"""

import gzip

from tests.publishing.upload.dists import core_metadata

BLOCK = 512
TOP = "sample_pkg-1.0"
USTAR = b"ustar\x0000"
GNU = b"ustar  \x00"
END = bytes(2 * BLOCK)

# (offset, length) of each ustar header field.
_FIELDS = {
    "name": (0, 100),
    "mode": (100, 8),
    "uid": (108, 8),
    "gid": (116, 8),
    "size": (124, 12),
    "mtime": (136, 12),
    "checksum": (148, 8),
    "type": (156, 1),
    "linkname": (157, 100),
    "magic": (257, 8),
    "uname": (265, 32),
    "gname": (297, 32),
    "devmajor": (329, 8),
    "devminor": (337, 8),
    "prefix": (345, 155),
}


def octal(value: int, length: int) -> bytes:
    return b"%0*o\x00" % (length - 1, value)


def header(
    name: str | bytes, *, size: int | bytes = 0, checksum: bytes | None = None, **fields
) -> bytes:
    """One 512-byte header; keyword fields (raw bytes, or str for text) override the defaults."""
    values: dict[str, bytes] = {
        "name": name.encode() if isinstance(name, str) else name,
        "mode": octal(0o644, 8),
        "uid": octal(1000, 8),
        "gid": octal(1000, 8),
        "size": size if isinstance(size, bytes) else octal(size, 12),
        "mtime": octal(1_700_000_000, 12),
        "type": b"0",
        "magic": USTAR,
        "uname": b"user",
        "gname": b"user",
        "devmajor": octal(0, 8),
        "devminor": octal(0, 8),
    }
    values.update({k: v.encode() if isinstance(v, str) else v for k, v in fields.items()})
    block = bytearray(BLOCK)
    for field, value in values.items():
        start, length = _FIELDS[field]
        assert len(value) <= length, (field, value)
        block[start : start + len(value)] = value
    block[148:156] = b" " * 8
    block[148:156] = checksum if checksum is not None else b"%06o\x00 " % sum(block)
    return bytes(block)


def padded(data: bytes) -> bytes:
    return data + bytes(-len(data) % BLOCK)


def member(name: str | bytes, data: bytes = b"", **fields) -> bytes:
    """A header and its data, padded to the block size; `size` defaults to the data's length."""
    fields.setdefault("size", len(data))
    return header(name, **fields) + padded(data)


def pax_record(key: str | bytes, value: str | bytes) -> bytes:
    """One `LENGTH KEY=VALUE\\n` record, its length (which counts its own digits) computed."""
    key = key.encode() if isinstance(key, str) else key
    value = value.encode() if isinstance(value, str) else value
    body = b" " + key + b"=" + value + b"\n"
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length += 1
    return str(length).encode() + body


def pax(*records: tuple[str | bytes, str | bytes] | bytes, kind: bytes = b"x") -> bytes:
    """A PAX extended header (`x`, or `g` for a global one) from pairs or raw record bytes."""
    data = b"".join(r if isinstance(r, bytes) else pax_record(*r) for r in records)
    return member("././@PaxHeader", data, type=kind)


def gnu_long(value: str | bytes, *, kind: bytes = b"L") -> bytes:
    """A GNU long-name (`L`) or long-link (`K`) record holding `value` and its NUL."""
    data = (value.encode() if isinstance(value, str) else value) + b"\x00"
    return member("././@LongLink", data, type=kind, magic=GNU)


def pkg_info() -> bytes:
    return member(f"{TOP}/PKG-INFO", core_metadata("sample-pkg", "1.0"))


def tar(*pieces: bytes, end: bytes = END, record_size: int = 0) -> bytes:
    """PKG-INFO, then `pieces`, then `end`, zero-padded to a multiple of `record_size`."""
    archive = pkg_info() + b"".join(pieces) + end
    if record_size:
        archive += bytes(-len(archive) % record_size)
    return archive


def gz(archive: bytes, *, after: bytes = b"") -> bytes:
    """`archive` as one gzip member, followed by `after` (another member, junk, padding)."""
    return gzip.compress(archive, compresslevel=1, mtime=0) + after

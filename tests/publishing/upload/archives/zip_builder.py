"""Write ZIP archives byte by byte, so a test can build structures no ZIP library would write.

Each member's local header and central-directory entry are written from the member's fields,
and either can be given other values (`local=`, `central=`) to make the two disagree; the end
records, a ZIP64 end record and locator, prefix, gaps, trailing bytes and the order of the
central directory are separate choices of `build`.
"""

import struct
import zlib
from dataclasses import dataclass, field

UNIX_FILE = 0o100644 << 16
UNIX_DIR = (0o040755 << 16) | 0x10
MADE_BY_UNIX = (3 << 8) | 20
U32 = 0xFFFFFFFF
U16 = 0xFFFF


def extra_block(block_id: int, data: bytes) -> bytes:
    return struct.pack("<HH", block_id, len(data)) + data


def unicode_path(raw_name: bytes, name: str, *, crc: int | None = None) -> bytes:
    """A Unicode-path extra field (0x7075) naming `name` for the raw name `raw_name`."""
    checksum = zlib.crc32(raw_name) if crc is None else crc
    return extra_block(0x7075, b"\x01" + struct.pack("<I", checksum) + name.encode())


def zip64_extra(*values: int, disk: int | None = None) -> bytes:
    data = b"".join(struct.pack("<Q", value) for value in values)
    if disk is not None:
        data += struct.pack("<I", disk)
    return extra_block(0x0001, data)


@dataclass
class Member:
    name: str | bytes
    data: bytes = b""
    method: int = 8
    flags: int | None = None
    version_needed: int = 20
    made_by: int = MADE_BY_UNIX
    external: int | None = None
    extra: bytes = b""
    # Raw compressed bytes to write instead of compressing `data`.
    compressed: bytes | None = None
    # Field values for the local header / the central entry only (keys as in `_fields`).
    local: dict = field(default_factory=dict)
    central: dict = field(default_factory=dict)

    @property
    def raw_name(self) -> bytes:
        return self.name if isinstance(self.name, bytes) else self.name.encode()

    def _fields(self) -> dict:
        compressed = self.compressed
        if compressed is None:
            if self.method == 8:
                deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
                compressed = deflater.compress(self.data) + deflater.flush()
            else:
                compressed = self.data
        flags = self.flags
        if flags is None:
            flags = 0 if self.raw_name.isascii() else 0x800
        external = self.external
        if external is None:
            external = UNIX_DIR if self.raw_name.endswith(b"/") else UNIX_FILE
        return {
            "name": self.raw_name,
            "version_needed": self.version_needed,
            "flags": flags,
            "method": self.method,
            "time": 0,
            "date": (2024 - 1980) << 9 | 1 << 5 | 1,
            "crc": zlib.crc32(self.data),
            "compressed_size": len(compressed),
            "size": len(self.data),
            "extra": self.extra,
            "made_by": self.made_by,
            "comment": b"",
            "disk": 0,
            "internal": 0,
            "external": external,
            "body": compressed,
        }

    def local_header(self) -> tuple[bytes, bytes]:
        """The local header and the data after it."""
        values = {**self._fields(), **self.local}
        header = struct.pack(
            "<4sHHHHHIIIHH",
            values.get("signature", b"PK\x03\x04"),
            values["version_needed"],
            values["flags"],
            values["method"],
            values["time"],
            values["date"],
            values["crc"],
            values["compressed_size"],
            values["size"],
            len(values["name"]),
            len(values["extra"]),
        )
        return header + values["name"] + values["extra"], values["body"]

    def central_entry(self, offset: int) -> bytes:
        values = {**self._fields(), "offset": offset, **self.central}
        return (
            struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                values["made_by"],
                values["version_needed"],
                values["flags"],
                values["method"],
                values["time"],
                values["date"],
                values["crc"],
                values["compressed_size"],
                values["size"],
                len(values["name"]),
                len(values["extra"]),
                len(values["comment"]),
                values["disk"],
                values["internal"],
                values["external"],
                values["offset"],
            )
            + values["name"]
            + values["extra"]
            + values["comment"]
        )


def build(
    members: list[Member],
    *,
    prefix: bytes = b"",
    count_prefix: bool = False,
    after: dict[int, bytes] | None = None,
    central_order: list[int] | None = None,
    omit_local: tuple[int, ...] = (),
    omit_central: tuple[int, ...] = (),
    zip64: bool = False,
    end: dict | None = None,
    end64: dict | None = None,
    locator: dict | None = None,
    comment: bytes = b"",
    trailing: bytes = b"",
) -> bytes:
    """The archive of `members`: `after[i]` is written after member i's data; `end`, `end64` and
    `locator` override fields of the end records. Offsets leave `prefix` out, as a writer that
    did not know of it would, unless `count_prefix`."""
    after = after or {}
    body = prefix if count_prefix else b""
    offsets = []
    for index, member in enumerate(members):
        offsets.append(len(body))
        if index not in omit_local:
            header, data = member.local_header()
            body += header + data
        body += after.get(index, b"")
    order = central_order if central_order is not None else list(range(len(members)))
    directory = b"".join(
        members[index].central_entry(offsets[index]) for index in order if index not in omit_central
    )
    entries = len(order) - len([index for index in order if index in omit_central])
    values = {
        "disk": 0,
        "directory_disk": 0,
        "disk_entries": entries,
        "entries": entries,
        "size": len(directory),
        "offset": len(body),
        "comment_length": len(comment),
        **(end or {}),
    }
    records = b""
    if zip64:
        values64 = {
            "record_size": 44,
            "disk": 0,
            "directory_disk": 0,
            "disk_entries": entries,
            "entries": entries,
            "size": len(directory),
            "offset": len(body),
            "extensible": b"",
            **(end64 or {}),
        }
        end64_offset = len(body) + len(directory)
        records += struct.pack(
            "<4sQHHIIQQQQ",
            b"PK\x06\x06",
            values64["record_size"],
            45,
            45,
            values64["disk"],
            values64["directory_disk"],
            values64["disk_entries"],
            values64["entries"],
            values64["size"],
            values64["offset"],
        )
        records += values64["extensible"]
        locator_values = {"disk": 0, "offset": end64_offset, "disks": 1, **(locator or {})}
        records += struct.pack(
            "<4sIQI",
            b"PK\x06\x07",
            locator_values["disk"],
            locator_values["offset"],
            locator_values["disks"],
        )
    records += struct.pack(
        "<4sHHHHIIH",
        b"PK\x05\x06",
        values["disk"],
        values["directory_disk"],
        values["disk_entries"],
        values["entries"],
        values["size"],
        values["offset"],
        values["comment_length"],
    )
    return (b"" if count_prefix else prefix) + body + directory + records + comment + trailing

"""The ZIP structure walker: every class of ZIP two readers could read differently is refused with
its reason, and what CPython's zipfile and the build backends write is accepted."""

import io
import struct
import unicodedata
import zipfile
import zlib

import pytest

from publishing.upload.archives.distributions import check_zip_sdist
from publishing.upload.archives.zip_structure import (
    TooManyMembersError,
    UnpackedTooLargeError,
    check_zip_structure,
)
from publishing.upload.errors import UploadError
from tests.publishing.upload.archives.zip_builder import (
    U16,
    U32,
    Member,
    build,
    extra_block,
    unicode_path,
    zip64_extra,
)
from tests.publishing.upload.conftest import refusal
from tests.publishing.upload.dists import core_metadata, make_wheel

TOP = "sample_pkg-1.0"
PKG_INFO = core_metadata("sample-pkg", "1.0")
LIMIT = 1 << 30


def members(*extra: Member) -> list[Member]:
    return [
        Member(f"{TOP}/PKG-INFO", PKG_INFO),
        Member(f"{TOP}/a.py", b"A = 1\n" * 20, method=0),
        Member(f"{TOP}/b.py", b"B = 2\n" * 20),
        *extra,
    ]


def check(content: bytes) -> None:
    check_zip_structure(io.BytesIO(content), max_members=100, max_unpacked_size=LIMIT)


def refused_with(content: bytes) -> str:
    with pytest.raises(UploadError) as caught:
        check(content)
    message = caught.value.message
    prefix = "ZIP archive not accepted: "
    assert message.startswith(prefix)
    assert message.endswith(".")
    return message[len(prefix) : -1]


def both(**fields) -> dict:
    """Member keyword arguments giving local header and central entry the same `fields`."""
    return {"local": dict(fields), "central": dict(fields)}


def deflated(data: bytes) -> bytes:
    deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
    return deflater.compress(data) + deflater.flush()


def cpython_zip(write, **options) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, **options) as archive:
        archive.writestr(f"{TOP}/PKG-INFO", PKG_INFO)
        write(archive)
    return buffer.getvalue()


# --- accepted ------------------------------------------------------------------------------


def _force_zip64(archive: zipfile.ZipFile) -> None:
    with archive.open(f"{TOP}/big.py", "w", force_zip64=True) as member:
        member.write(b"X = 1\n")


def _mkdir(archive: zipfile.ZipFile) -> None:
    archive.mkdir(f"{TOP}/pkg")
    archive.writestr(f"{TOP}/pkg/__init__.py", b"")


def _comment(archive: zipfile.ZipFile) -> None:
    archive.comment = b"built by tests"


def _names(archive: zipfile.ZipFile) -> None:
    archive.writestr(f"{TOP}/données/é.txt", "é")
    archive.writestr(f"{TOP}/with space.txt", b"")
    archive.writestr(zipfile.ZipInfo(f"{TOP}/stored.bin"), bytes(range(256)))


@pytest.mark.parametrize("write", [_force_zip64, _mkdir, _comment, _names, lambda archive: None])
def test_what_cpython_writes_is_accepted(write):
    check(cpython_zip(write))


def test_the_builder_s_plain_archive_is_accepted():
    check(build(members()))


@pytest.mark.parametrize(
    "member",
    [
        Member(f"{TOP}/t.py", b"", extra=extra_block(0x5455, b"\x03" + bytes(8))),
        Member(f"{TOP}/u.py", b"x", extra=extra_block(0x7875, b"\x01\x04" + bytes(8)) * 2),
        Member(f"{TOP}/é.py", b"x", extra=unicode_path(f"{TOP}/é.py".encode(), f"{TOP}/é.py")),
        Member(f"{TOP}/dos.py", b"x", made_by=20, external=0x20),
        Member(f"{TOP}/mode-bits-only.py", b"x", external=0o644 << 16),
        Member(f"{TOP}/dir/", b"", method=0),
    ],
    ids=["timestamps", "uid-gid-twice", "unicode-path", "dos-made", "no-type-bits", "directory"],
)
def test_extras_hosts_and_directories_that_readers_agree_on_are_accepted(member):
    check(build(members(member)))


def test_a_zip64_end_record_that_agrees_with_the_end_record_is_accepted():
    check(build(members(), zip64=True, end={"entries": U16, "disk_entries": U16, "offset": U32}))
    check(build(members(), zip64=True))


def test_an_empty_archive_is_accepted_by_the_walker():
    check(build([]))


def test_a_wheel_as_make_wheel_writes_it_is_accepted():
    check(make_wheel().content)


# --- refused: framing ------------------------------------------------------------------------

OUT_OF_ORDER = (
    "the entry 'sample_pkg-1.0/b.py' does not start where the entry listed before it ends "
    "(entries overlap or are out of order)"
)
_A_LENGTH = len(b"".join(members()[1].local_header()))
_B_OFFSET = len(b"".join(b"".join(m.local_header()) for m in members()[:2]))

FRAMING_CASES = [
    (
        "not-a-zip",
        b"not a zip at all",
        "the file has no end-of-central-directory record (it is not a ZIP archive)",
    ),
    (
        "prefix",
        build(members(), prefix=b"MZ" * 8, count_prefix=True),
        "16 bytes that belong to no entry come before the first entry",
    ),
    (
        "prefix-uncounted",
        build(members(), prefix=b"MZ" * 8),
        "the central directory does not end where the end record begins",
    ),
    (
        "gap",
        build(members(), after={0: bytes(5)}),
        "5 bytes that belong to no entry come before 'sample_pkg-1.0/a.py'",
    ),
    (
        "hidden-local-entry",
        build(
            members(), after={2: b"".join(Member(f"{TOP}/evil.py", b"import os").local_header())}
        ),
        (
            f"{len(b''.join(Member(f'{TOP}/evil.py', b'import os').local_header()))} bytes that "
            "belong to no entry come before the central directory"
        ),
    ),
    (
        "local-only-entry",
        build(members(), omit_central=(1,)),
        f"{_A_LENGTH} bytes that belong to no entry come before 'sample_pkg-1.0/b.py'",
    ),
    (
        "central-only-entry",
        build(members(), omit_local=(1,)),
        (
            "the local header of 'sample_pkg-1.0/a.py' names another member than its "
            "central-directory entry"
        ),
    ),
    (
        "out-of-order",
        build(members(), central_order=[0, 2, 1]),
        OUT_OF_ORDER,
    ),
    (
        "overlap",
        build([*members()[:2], Member(f"{TOP}/b.py", b"x", central={"offset": 0})]),
        OUT_OF_ORDER,
    ),
    (
        "trailing-nul",
        build(members(), trailing=b"\x00"),
        "the end record's comment declares 0 bytes but 1 follow it",
    ),
    (
        "trailing-junk",
        build(members(), trailing=b"junk"),
        "the end record's comment declares 0 bytes but 4 follow it",
    ),
    (
        "comment-too-short",
        build(members(), comment=b"abc", end={"comment_length": 5}),
        "the end record's comment declares 5 bytes but 3 follow it",
    ),
    (
        "second-end-record-appended",
        build(members(), trailing=struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0, 0, 0, 0, 0)),
        "the file holds more than one end-of-central-directory record",
    ),
    (
        "end-record-in-comment",
        build(members(), comment=struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 3, 3, 0, 0, 0)),
        "the file holds more than one end-of-central-directory record",
    ),
    (
        "local-header-in-comment",
        build(members(), comment=b"PK\x03\x04 hidden"),
        "the archive comment holds a ZIP record signature",
    ),
    (
        "directory-size-short",
        build(members(), end={"size": 1}),
        "the central directory does not end where the end record begins",
    ),
    (
        "directory-offset-off-by-one",
        build(members(), end={"offset": 1}),
        "the central directory does not end where the end record begins",
    ),
    (
        "count-zero",
        build(members(), end={"entries": 0, "disk_entries": 0}),
        "the central directory holds more entries than the 0 the end record counts",
    ),
    (
        "count-more",
        build(members(), end={"entries": 4, "disk_entries": 4}),
        "the end record counts 4 entries but the central directory holds 3",
    ),
    (
        "disk-counts-differ",
        build(members(), end={"disk_entries": 2}),
        "the end record describes an archive split over several disks",
    ),
    (
        "zip64-without-record",
        build(members(), end={"offset": U32}),
        "the end record refers to a ZIP64 end record that is not there",
    ),
    (
        "zip64-extensible-data",
        build(members(), zip64=True, end64={"record_size": 48, "extensible": b"abcd"}),
        "the ZIP64 end record carries extensible data",
    ),
    (
        "zip64-locator-off",
        build(members(), zip64=True, locator={"offset": 1}),
        "the ZIP64 locator points at bytes that are not a ZIP64 end record",
    ),
    (
        "zip64-disagrees",
        build(members(), zip64=True, end64={"entries": 2, "disk_entries": 2}),
        "the end record and the ZIP64 end record disagree on the entry count",
    ),
    (
        "zip64-disks",
        build(members(), zip64=True, locator={"disks": 2}),
        "the ZIP64 locator describes an archive split over several disks",
    ),
    (
        "cut-directory",
        build(members(), end={"size": 50, "offset": _B_OFFSET + 1000})[:-22],
        "the file has no end-of-central-directory record (it is not a ZIP archive)",
    ),
]


@pytest.mark.parametrize(
    ("content", "reason"), [c[1:] for c in FRAMING_CASES], ids=[c[0] for c in FRAMING_CASES]
)
def test_framing_that_readers_disagree_on_is_refused(content, reason):
    assert refused_with(content) == reason


# --- refused: one entry's headers, data and flags --------------------------------------------

A = f"{TOP}/a.py"
A_DATA = b"A = 1\n" * 20
A_SHOWN = f"'{A}'"


def with_a(**options) -> bytes:
    """The plain archive with its stored member `a.py` written with `options`."""
    first, _, third = members()
    return build([first, Member(A, A_DATA, **{"method": 0, **options}), third])


def _mismatch(field: str) -> str:
    return (
        f"the local header of {A_SHOWN} disagrees with its central-directory entry on the {field}"
    )


ENTRY_CASES = [
    (
        "local-name",
        with_a(local={"name": A.replace("a.py", "x.py").encode()}),
        f"the local header of {A_SHOWN} names another member than its central-directory entry",
    ),
    ("local-crc", with_a(local={"crc": 1}), _mismatch("CRC-32")),
    (
        "local-compressed-size",
        with_a(method=8, local={"compressed_size": 3}),
        _mismatch("compressed size"),
    ),
    ("local-size", with_a(method=8, local={"size": 3}), _mismatch("size")),
    ("local-flags", with_a(local={"flags": 0x800}), _mismatch("flags")),
    ("local-method", with_a(local={"method": 8}), _mismatch("compression method")),
    ("local-version", with_a(local={"version_needed": 45}), _mismatch("version needed")),
    ("local-encrypted-only", with_a(local={"flags": 1}), _mismatch("flags")),
    (
        "encrypted",
        with_a(flags=1),
        f"the member {A_SHOWN} is encrypted; build the file without encryption",
    ),
    (
        "strongly-encrypted",
        with_a(flags=0x41),
        f"the member {A_SHOWN} is encrypted; build the file without encryption",
    ),
    (
        "masked-headers",
        with_a(flags=0x2000),
        f"the member {A_SHOWN} is encrypted; build the file without encryption",
    ),
    (
        "data-descriptor",
        with_a(flags=0x8),
        f"the member {A_SHOWN} uses a data descriptor (its sizes and CRC follow its data)",
    ),
    (
        "data-descriptor-after-data",
        build(
            [members()[0], Member(A, A_DATA, method=0, flags=0x8), members()[2]],
            after={
                1: struct.pack(
                    "<4sIII", b"PK\x07\x08", zlib.crc32(A_DATA), len(A_DATA), len(A_DATA)
                )
            },
        ),
        f"the member {A_SHOWN} uses a data descriptor (its sizes and CRC follow its data)",
    ),
    ("patched", with_a(flags=0x20), f"the member {A_SHOWN} is marked as patched data"),
    (
        "unknown-flag",
        with_a(flags=0x1000),
        f"the member {A_SHOWN} sets the unknown flag bits 0x1000",
    ),
    *[
        (
            f"method-{method}",
            with_a(method=method, compressed=A_DATA),
            (
                f"the member {A_SHOWN} uses compression method {method}; only stored (0) and "
                "deflate (8) are accepted"
            ),
        )
        for method in (1, 12, 14, 93, 99)
    ],
    (
        "version-6.4",
        with_a(version_needed=64),
        f"the member {A_SHOWN} needs ZIP version 6.4, later than 6.3",
    ),
    (
        "central-comment",
        with_a(central={"comment": b"hi"}),
        f"the central-directory entry of {A_SHOWN} carries a comment",
    ),
    ("other-disk", with_a(central={"disk": 1}), f"the entry {A_SHOWN} lies on another disk"),
    (
        "stored-sizes-differ",
        with_a(compressed=A_DATA + b"x"),
        f"the stored member {A_SHOWN} declares two different sizes",
    ),
    ("crc", with_a(**both(crc=7)), f"the CRC-32 of {A_SHOWN} does not match its data"),
    (
        "deflate-crc",
        with_a(method=8, **both(crc=7)),
        f"the CRC-32 of {A_SHOWN} does not match its data",
    ),
    # CPython stops at the declared size and checks the CRC of that prefix: a reader of the whole
    # stream would write twice as much.
    (
        "deflate-longer-than-declared",
        with_a(method=8, compressed=deflated(A_DATA * 2)),
        f"the data of {A_SHOWN} unpacks to more bytes than its declared size",
    ),
    (
        "deflate-shorter-than-declared",
        with_a(method=8, **both(size=len(A_DATA) + 1)),
        f"the data of {A_SHOWN} unpacks to fewer bytes than its declared size",
    ),
    (
        "deflate-junk-after-stream",
        with_a(method=8, compressed=deflated(A_DATA) + b"junk"),
        f"the deflate stream of {A_SHOWN} continues after its compressed size",
    ),
    (
        "deflate-cut-short",
        with_a(method=8, compressed=deflated(A_DATA)[:-2]),
        f"the deflate stream of {A_SHOWN} ends before its compressed size",
    ),
    (
        "deflate-corrupt",
        with_a(method=8, compressed=b"\xff" * 8),
        f"the deflate data of {A_SHOWN} is corrupt",
    ),
    (
        "data-into-directory",
        build(
            members(
                Member(f"{TOP}/z.py", b"z" * 10, method=0, **both(compressed_size=500, size=500))
            )
        ),
        f"the data of '{TOP}/z.py' runs into the central directory",
    ),
    # ZIP64 extra fields.
    (
        "local-zip64-disagrees",
        with_a(local={"extra": zip64_extra(len(A_DATA) + 1, len(A_DATA))}),
        f"the local header of {A_SHOWN} and its ZIP64 extra field disagree on the sizes",
    ),
    (
        "local-zip64-short",
        with_a(local={"extra": zip64_extra(len(A_DATA))}),
        f"the local ZIP64 extra field of {A_SHOWN} is not 16 bytes long",
    ),
    (
        "local-sentinel-without-zip64",
        with_a(local={"size": U32}),
        f"the local header of {A_SHOWN} lacks the ZIP64 sizes it refers to",
    ),
    (
        "local-zip64-twice",
        with_a(local={"extra": zip64_extra(len(A_DATA), len(A_DATA)) * 2}),
        f"the entry {A_SHOWN} carries the extra field 0x0001 twice",
    ),
    (
        "central-zip64-not-needed",
        with_a(central={"extra": zip64_extra(len(A_DATA))}),
        f"the ZIP64 extra field of {A_SHOWN} does not match the fields its entry marks as ZIP64",
    ),
    (
        "central-sentinel-without-zip64",
        with_a(central={"size": U32}),
        f"the ZIP64 extra field of {A_SHOWN} does not match the fields its entry marks as ZIP64",
    ),
    (
        "central-zip64-wrong-length",
        with_a(central={"size": U32, "extra": zip64_extra(len(A_DATA), 0)}),
        f"the ZIP64 extra field of {A_SHOWN} does not match the fields its entry marks as ZIP64",
    ),
    (
        "central-zip64-twice",
        with_a(central={"size": U32, "extra": zip64_extra(len(A_DATA)) * 2}),
        f"the entry {A_SHOWN} carries the extra field 0x0001 twice",
    ),
    (
        "extra-three-bytes",
        with_a(extra=b"\x01\x02\x03"),
        f"the extra field of {A_SHOWN} is malformed",
    ),
    (
        "extra-past-its-end",
        with_a(extra=struct.pack("<HH", 0x5455, 10) + b"ab"),
        f"the extra field of {A_SHOWN} is malformed",
    ),
]


@pytest.mark.parametrize(
    ("content", "reason"), [c[1:] for c in ENTRY_CASES], ids=[c[0] for c in ENTRY_CASES]
)
def test_entries_that_readers_disagree_on_are_refused(content, reason):
    assert refused_with(content) == reason


def test_an_entry_pointed_at_another_entry_s_local_header_is_refused():
    # The central entry of b.py names the offset of a.py's local header.
    first, second, third = members()
    offset = len(b"".join(first.local_header()))
    content = build([first, second, Member(third.name, third.data, central={"offset": offset})])

    assert refused_with(content) == (
        f"the entry '{TOP}/b.py' does not start where the entry listed before it ends (entries "
        "overlap or are out of order)"
    )


# --- refused: names and kinds of member ------------------------------------------------------


def with_member(name, data: bytes = b"x", **options) -> bytes:
    return build(members(Member(name, data, method=0, **options)))


NAME_CASES = [
    *[
        (
            f"control-{ord(char):02x}",
            with_member(f"{TOP}/a{char}b.py"),
            (
                f"the member name '{TOP}/a\\u{ord(char):04x}b.py' contains the control character "
                f"U+{ord(char):04X}"
            ),
        )
        for char in "\x00\n\r\t\x7f\x85\u202e"
    ],
    ("empty", with_member(""), "a member has an empty name"),
    (
        "dot-dot",
        with_member(f"{TOP}/../x.py"),
        f"the member name '{TOP}/../x.py' contains a '..' segment",
    ),
    ("absolute", with_member("/etc/passwd"), "the member name '/etc/passwd' is an absolute path"),
    ("drive", with_member("C:x.py"), "the member name 'C:x.py' starts with a drive letter"),
    (
        "backslash",
        with_member(f"{TOP}\\x.py"),
        f"the member name '{TOP}\\x.py' contains a backslash",
    ),
    ("dot", with_member(f"./{TOP}/x.py"), f"the member name './{TOP}/x.py' contains a '.' segment"),
    (
        "inner-dot",
        with_member(f"{TOP}/./x.py"),
        f"the member name '{TOP}/./x.py' contains a '.' segment",
    ),
    (
        "double-slash",
        with_member(f"{TOP}//x.py"),
        f"the member name '{TOP}//x.py' contains an empty segment",
    ),
    (
        "too-long",
        with_member(f"{TOP}/" + "a" * 1100),
        f"the member name '{TOP}/{'a' * 45}...' is longer than 1,024 bytes",
    ),
    (
        "not-utf8-flagged",
        with_member(f"{TOP}/".encode() + b"\xff.py", flags=0x800),
        f"the member name '{TOP}/\ufffd.py' is not valid UTF-8",
    ),
    (
        "non-ascii-unflagged",
        with_member(f"{TOP}/é.py".encode(), flags=0),
        (
            f"the member name '{TOP}/{'é'.encode().decode('cp437')}.py' is not ASCII and the entry "
            "does not set the UTF-8 flag"
        ),
    ),
    (
        "twice",
        build(members(Member(f"{TOP}/a.py", b"again"))),
        f"the member '{TOP}/a.py' appears twice",
    ),
    (
        "case-twins",
        build(members(Member(f"{TOP}/A.py", b"x"))),
        f"the members '{TOP}/a.py' and '{TOP}/A.py' differ only in case or Unicode normalisation",
    ),
    (
        "nfc-nfd-twins",
        build(
            members(
                Member(f"{TOP}/é.py", b"x"),
                Member(unicodedata.normalize("NFD", f"{TOP}/é.py"), b"y"),
            )
        ),
        (
            f"the members '{TOP}/é.py' and '{unicodedata.normalize('NFD', f'{TOP}/é.py')}' differ "
            "only in case or Unicode normalisation"
        ),
    ),
    (
        "unicode-path-differs",
        with_member(f"{TOP}/a2.py", extra=unicode_path(f"{TOP}/a2.py".encode(), f"{TOP}/evil.py")),
        f"the entry '{TOP}/a2.py' carries a Unicode-path extra field that names it differently",
    ),
    (
        "unicode-path-bad-crc",
        with_member(f"{TOP}/a2.py", extra=unicode_path(b"other", f"{TOP}/a2.py")),
        f"the entry '{TOP}/a2.py' carries a Unicode-path extra field that names it differently",
    ),
    (
        "unicode-path-not-utf8",
        with_member(
            f"{TOP}/a2.py",
            extra=extra_block(
                0x7075, b"\x01" + struct.pack("<I", zlib.crc32(f"{TOP}/a2.py".encode())) + b"\xff"
            ),
        ),
        f"the entry '{TOP}/a2.py' carries a Unicode-path extra field that names it differently",
    ),
    (
        "unicode-path-twice",
        with_member(
            f"{TOP}/a2.py", extra=unicode_path(f"{TOP}/a2.py".encode(), f"{TOP}/a2.py") * 2
        ),
        f"the entry '{TOP}/a2.py' carries the extra field 0x7075 twice",
    ),
    (
        "unicode-path-local-only",
        with_member(
            f"{TOP}/a2.py", local={"extra": unicode_path(f"{TOP}/a2.py".encode(), f"{TOP}/b2.py")}
        ),
        f"the entry '{TOP}/a2.py' carries a Unicode-path extra field that names it differently",
    ),
    (
        "directory-with-data",
        with_member(f"{TOP}/dir/", b"data"),
        f"the directory entry '{TOP}/dir/' holds data",
    ),
    (
        "directory-as-regular-file",
        with_member(f"{TOP}/dir/", b"", external=0o100644 << 16),
        f"the member '{TOP}/dir/' ends in '/' but is marked as a regular file",
    ),
    (
        "file-as-directory",
        with_member(f"{TOP}/dir", b"", external=0o040755 << 16),
        f"the member '{TOP}/dir' is marked as a directory but its name lacks '/'",
    ),
    (
        "symlink",
        with_member(f"{TOP}/link", b"/etc/passwd", external=0o120777 << 16),
        f"the member '{TOP}/link' is a symbolic link",
    ),
    (
        "fifo",
        with_member(f"{TOP}/fifo", b"", external=0o010644 << 16),
        f"the member '{TOP}/fifo' is a FIFO",
    ),
    (
        "char-device",
        with_member(f"{TOP}/tty", b"", external=0o020644 << 16),
        f"the member '{TOP}/tty' is a character device",
    ),
    (
        "block-device",
        with_member(f"{TOP}/sda", b"", external=0o060644 << 16),
        f"the member '{TOP}/sda' is a block device",
    ),
    (
        "socket",
        with_member(f"{TOP}/sock", b"", external=0o140644 << 16),
        f"the member '{TOP}/sock' is a socket",
    ),
    (
        "unknown-type",
        with_member(f"{TOP}/odd", b"", external=0o070644 << 16),
        f"the member '{TOP}/odd' has the unknown file type 0o70000",
    ),
]


@pytest.mark.parametrize(
    ("content", "reason"), [c[1:] for c in NAME_CASES], ids=[c[0] for c in NAME_CASES]
)
def test_names_and_kinds_readers_disagree_on_are_refused(content, reason):
    assert refused_with(content) == reason


def test_a_symlink_mode_only_counts_on_unix():
    # Outside Unix the high bits of the external attributes mean nothing to any reader.
    check(with_member(f"{TOP}/link", b"target", made_by=20, external=0o120777 << 16))


# --- limits ----------------------------------------------------------------------------------


def test_more_entries_than_the_cap_stop_before_the_directory_is_read():
    content = build(members())
    with pytest.raises(TooManyMembersError):
        check_zip_structure(io.BytesIO(content), max_members=2, max_unpacked_size=LIMIT)


def test_declared_sizes_over_the_limit_stop_before_any_data_is_inflated():
    # The data is corrupt: reaching it would raise another error.
    bomb = Member(f"{TOP}/bomb", method=8, compressed=b"\xff" * 8, **both(size=10_000))
    content = build(members(bomb))
    with pytest.raises(UnpackedTooLargeError):
        check_zip_structure(io.BytesIO(content), max_members=100, max_unpacked_size=9_000)


# --- through the upload --------------------------------------------------------------------


def test_a_zip_sdist_with_a_refused_structure_is_refused_by_the_sdist_check(tmp_path):
    path = tmp_path / "sample_pkg-1.0.zip"
    path.write_bytes(build(members(), trailing=b"junk"))

    with pytest.raises(UploadError) as caught:
        check_zip_sdist(str(path))

    assert caught.value.message == (
        "ZIP archive not accepted: the end record's comment declares 0 bytes but 4 follow it."
    )


def test_a_zip_whose_first_block_is_a_v7_tar_header_is_refused_as_a_polyglot(tmp_path):
    # The first member's name is chosen so the first 512 bytes carry a valid v7 tar checksum:
    # `tarfile` opens such a file as a tar, with no magic.
    name = bytearray(f"{TOP}/".encode() + b"n" * 480)
    field = slice(148 - 30, 156 - 30)
    name[field] = b" " * 8
    first = Member(bytes(name), b"x", method=0)
    head = b"".join(first.local_header())[:512]
    checksum = sum(head[:148]) + 8 * 0x20 + sum(head[156:512])
    name[field] = b"%06o\x00 " % checksum
    content = build([Member(bytes(name), b"x", method=0), *members()])
    path = tmp_path / "sample_pkg-1.0.zip"
    path.write_bytes(content)

    with pytest.raises(UploadError) as caught:
        check_zip_sdist(str(path))

    assert caught.value.message == (
        "Invalid distribution file. The file is both a zip archive and another archive format."
    )


@pytest.mark.django_db
def test_an_upload_of_a_wheel_with_trailing_bytes_is_refused(upload):
    wheel = make_wheel()
    wheel.content += b"\x00\x00"

    response = upload(wheel)

    assert response.status_code == 400
    assert refusal(response) == (
        "ZIP archive not accepted: the end record's comment declares 0 bytes but 2 follow it."
    )

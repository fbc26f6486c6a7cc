"""The tar structure walker: every class of tar two readers could unpack differently is refused
with its reason, and what tarfile and the build backends write is accepted."""

import gzip
import io
import tarfile

import pytest

from publishing.upload.archives.distributions import check_tar_sdist
from publishing.upload.errors import UploadError
from tests.publishing.upload.archives.tar_builder import (
    GNU,
    TOP,
    gnu_long,
    gz,
    header,
    member,
    pax,
    pax_record,
    pkg_info,
    tar,
)
from tests.publishing.upload.conftest import refusal
from tests.publishing.upload.dists import core_metadata, make_sdist

# The first piece after PKG-INFO (one header, one block of metadata) starts at this byte.
FIRST = 1024
EMBEDDED = member(f"{TOP}/evil.py", b"import os\n")


def refused_with(content: bytes, tmp_path) -> str:
    path = tmp_path / "sample_pkg-1.0.tar.gz"
    path.write_bytes(content)
    with pytest.raises(UploadError) as caught:
        check_tar_sdist(str(path))
    return caught.value.message


def check(content: bytes, tmp_path) -> None:
    path = tmp_path / "sample_pkg-1.0.tar.gz"
    path.write_bytes(content)
    check_tar_sdist(str(path))


def _not_accepted(reason: str) -> str:
    return f"tar archive not accepted: {reason}."


_EXT = f"the extended header at byte {FIRST}"

NAME_CASES = [
    ("absolute", member("/etc/passwd"), "the member name '/etc/passwd' is an absolute path"),
    (
        "dot-dot",
        member(f"{TOP}/../x.py"),
        f"the member name '{TOP}/../x.py' contains a '..' segment",
    ),
    ("backslash", member(f"{TOP}\\x.py"), f"the member name '{TOP}\\x.py' contains a backslash"),
    (
        "nul-in-pax-path",
        pax(("path", f"{TOP}/a\x00.py")) + member("short"),
        f"the member name '{TOP}/a\\u0000.py' contains the control character U+0000",
    ),
    (
        "cr-in-pax-path",
        pax(("path", f"{TOP}/a\r.py")) + member("short"),
        f"the member name '{TOP}/a\\u000d.py' contains the control character U+000D",
    ),
    (
        "not-utf8",
        member(f"{TOP}/".encode() + b"\xff.py"),
        f"the member name '{TOP}/\ufffd.py' is not valid UTF-8",
    ),
    (
        "name-over-limit",
        pax(("path", f"{TOP}/" + "a" * 1100)) + member("short"),
        f"the member name '{TOP}/{'a' * 45}...' is longer than 1,024 bytes",
    ),
    (
        "bytes-after-nul-in-name",
        member(f"{TOP}/a.py\x00.txt"),
        f"the header at byte {FIRST} has bytes hidden after a NUL in a name field",
    ),
    (
        "duplicate",
        member(f"{TOP}/a.py") + member(f"{TOP}/a.py"),
        f"the member '{TOP}/a.py' appears twice",
    ),
    (
        "duplicate-dir-and-file",
        member(f"{TOP}/sub/", type="5") + member(f"{TOP}/sub"),
        f"the member '{TOP}/sub' appears twice",
    ),
    (
        "case-twins",
        member(f"{TOP}/Foo.py") + member(f"{TOP}/foo.py"),
        (
            f"the members '{TOP}/Foo.py' and '{TOP}/foo.py' differ only in case or Unicode "
            "normalisation"
        ),
    ),
    (
        "nfc-twins",
        member(f"{TOP}/caf\u00e9") + member(f"{TOP}/cafe\u0301"),
        (
            f"the members '{TOP}/caf\u00e9' and '{TOP}/cafe\u0301' differ only in case or Unicode "
            "normalisation"
        ),
    ),
]

LINK_CASES = [
    (
        "symlink-absolute",
        member(f"{TOP}/l", type="2", linkname="/etc/passwd"),
        f"the symbolic link '{TOP}/l' has an empty or absolute target",
    ),
    (
        "symlink-escaping",
        member(f"{TOP}/sub/l", type="2", linkname="../../../x"),
        f"the symbolic link '{TOP}/sub/l' points outside the top directory",
    ),
    (
        "symlink-out-and-back",
        member(f"{TOP}/l", type="2", linkname=f"../{TOP}/PKG-INFO"),
        f"the symbolic link '{TOP}/l' points outside the top directory",
    ),
    (
        "symlink-backslash",
        member(f"{TOP}/l", type="2", linkname="..\\x"),
        f"the symbolic link '{TOP}/l' has the target '..\\x', which readers resolve differently",
    ),
    (
        "symlink-onto-top",
        member(f"{TOP}/sub/l", type="2", linkname=".."),
        f"the symbolic link '{TOP}/sub/l' points onto the top directory",
    ),
    (
        "symlink-via-link",
        member(f"{TOP}/sub/a.py")
        + member(f"{TOP}/l1", type="2", linkname="sub")
        + member(f"{TOP}/l2", type="2", linkname="l1/a.py"),
        f"the symbolic link '{TOP}/l2' points through another link",
    ),
    (
        "symlink-to-link",
        member(f"{TOP}/l1", type="2", linkname="PKG-INFO")
        + member(f"{TOP}/l2", type="2", linkname="l1"),
        f"the symbolic link '{TOP}/l2' points through another link",
    ),
    (
        "symlink-dangling",
        member(f"{TOP}/l", type="2", linkname="missing.py"),
        f"the symbolic link '{TOP}/l' points to '{TOP}/missing.py', which is no member",
    ),
    (
        "member-below-symlink",
        member(f"{TOP}/sub/", type="5")
        + member(f"{TOP}/l", type="2", linkname="sub")
        + member(f"{TOP}/l/x.py"),
        f"the member '{TOP}/l/x.py' lies below a symbolic link",
    ),
    (
        "hardlink-missing",
        member(f"{TOP}/h", type="1", linkname=f"{TOP}/missing.py"),
        (
            f"the hard link '{TOP}/h' does not point to an earlier regular file (it points to "
            f"'{TOP}/missing.py')"
        ),
    ),
    (
        "hardlink-later",
        member(f"{TOP}/h", type="1", linkname=f"{TOP}/later.py") + member(f"{TOP}/later.py"),
        (
            f"the hard link '{TOP}/h' does not point to an earlier regular file (it points to "
            f"'{TOP}/later.py')"
        ),
    ),
    (
        "hardlink-outside",
        member(f"{TOP}/h", type="1", linkname="/etc/passwd"),
        (
            f"the hard link '{TOP}/h' does not point to an earlier regular file (it points to "
            "'/etc/passwd')"
        ),
    ),
    (
        "hardlink-to-directory",
        member(f"{TOP}/sub/", type="5") + member(f"{TOP}/h", type="1", linkname=f"{TOP}/sub"),
        (
            f"the hard link '{TOP}/h' does not point to an earlier regular file (it points to "
            f"'{TOP}/sub')"
        ),
    ),
    (
        "hardlink-with-data",
        member(f"{TOP}/h", EMBEDDED, type="1", linkname=f"{TOP}/PKG-INFO"),
        f"the link '{TOP}/h' carries 1024 bytes of data",
    ),
    (
        "symlink-with-data",
        member(f"{TOP}/l", EMBEDDED, type="2", linkname="PKG-INFO"),
        f"the link '{TOP}/l' carries 1024 bytes of data",
    ),
    (
        "directory-with-data",
        member(f"{TOP}/sub/", EMBEDDED, type="5"),
        f"the directory '{TOP}/sub/' carries 1024 bytes of data",
    ),
    (
        "link-target-on-a-file",
        gnu_long(f"{TOP}/other", kind=b"K") + member(f"{TOP}/a.py", magic=GNU),
        f"the member '{TOP}/a.py' has a link target but is not a link",
    ),
]

_ONLY_FILES = "only regular files, directories, hard links and symbolic links are accepted"
TYPE_CASES = [
    ("char-device", member(f"{TOP}/d", EMBEDDED, type="3"), "is a character device"),
    ("block-device", member(f"{TOP}/d", EMBEDDED, type="4"), "is a block device"),
    ("fifo", member(f"{TOP}/d", EMBEDDED, type="6"), "is a FIFO"),
    (
        "contiguous",
        member(f"{TOP}/d", EMBEDDED, type="7"),
        "is a contiguous file (type '7', which readers treat differently)",
    ),
    ("old-gnu-sparse", member(f"{TOP}/d", type="S", magic=GNU), "is a sparse file"),
    ("volume-header", member(f"{TOP}/d", EMBEDDED, type="V"), f"has type 'V'; {_ONLY_FILES}"),
    ("gnu-dumpdir", member(f"{TOP}/d", EMBEDDED, type="D"), f"has type 'D'; {_ONLY_FILES}"),
    ("vendor-type", member(f"{TOP}/d", EMBEDDED, type="A"), f"has type 'A'; {_ONLY_FILES}"),
]

PAX_CASES = [
    (
        "path-repeated-evil-first",
        pax(("path", "/etc/evil"), ("path", f"{TOP}/a.py")) + member("short"),
        f"{_EXT} repeats the pax key 'path'",
    ),
    (
        "path-repeated-evil-last",
        pax(("path", f"{TOP}/a.py"), ("path", "/etc/evil")) + member("short"),
        f"{_EXT} repeats the pax key 'path'",
    ),
    (
        "pax-then-gnu-long-name",
        pax(("path", f"{TOP}/a.py")) + gnu_long(f"{TOP}/b.py") + member("short"),
        (
            f"the extended header at byte {FIRST + 1024} mixes a GNU long-name record with a pax "
            "header for one member"
        ),
    ),
    (
        "gnu-long-name-then-pax",
        gnu_long(f"{TOP}/b.py") + pax(("path", f"{TOP}/a.py")) + member("short"),
        (
            f"the extended header at byte {FIRST + 1024} mixes a pax header with a GNU long-name "
            "record for one member"
        ),
    ),
    (
        "two-pax-headers",
        pax(("mtime", "1")) + pax(("path", f"{TOP}/a.py")) + member("short"),
        f"the extended header at byte {FIRST + 1024} is a second pax header for one member",
    ),
    (
        "two-long-names",
        gnu_long(f"{TOP}/a.py") + gnu_long(f"{TOP}/b.py") + member("short", magic=GNU),
        (
            f"the extended header at byte {FIRST + 1024} is a second GNU long-name record for one "
            "member"
        ),
    ),
    (
        "pax-then-global",
        pax(("path", f"{TOP}/a.py")) + pax(("comment", "x"), kind=b"g") + member("short"),
        (
            f"the extended header at byte {FIRST + 1024} is a global pax header between a member "
            "and its own headers"
        ),
    ),
    (
        "global-path",
        pax(("path", "/etc/evil"), kind=b"g") + member(f"{TOP}/a.py"),
        (
            f"{_EXT} is a global pax header setting 'path', which would apply to every later "
            "member; only 'comment' is accepted there"
        ),
    ),
    (
        "global-size",
        pax(("size", "0"), kind=b"g") + member(f"{TOP}/a.py"),
        (
            f"{_EXT} is a global pax header setting 'size', which would apply to every later "
            "member; only 'comment' is accepted there"
        ),
    ),
    (
        "pax-size-not-ustar-size",
        pax(("size", "1024")) + member(f"{TOP}/a.py", size=0) + EMBEDDED,
        f"the pax size of '{TOP}/a.py' (1024) differs from its header's (0)",
    ),
    (
        "record-length-zero",
        pax(b"0 path=x\n") + member(f"{TOP}/a.py"),
        f"{_EXT} has a pax record whose length is too small",
    ),
    (
        "record-length-not-decimal",
        pax(b"x1 path=x\n") + member(f"{TOP}/a.py"),
        f"{_EXT} has a pax record without a decimal length",
    ),
    (
        "record-without-newline",
        pax(pax_record("path", f"{TOP}/a.py")[:-1] + b" ") + member("short"),
        f"{_EXT} has a pax record that does not end with a newline",
    ),
    (
        "record-past-the-header",
        pax(b"99 path=x\n") + member(f"{TOP}/a.py"),
        f"{_EXT} has a pax record that runs past the end of the header",
    ),
    (
        "record-with-nul-in-key",
        pax(pax_record(b"pa\x00th", f"{TOP}/a.py")) + member("short"),
        f"{_EXT} has a pax record with a NUL in its key",
    ),
    (
        "record-without-key",
        pax(pax_record(b"", "x")) + member(f"{TOP}/a.py"),
        f"{_EXT} has a pax record without a key",
    ),
    (
        "pax-sparse-0.1",
        pax(("GNU.sparse.map", "0,0"), ("GNU.sparse.size", "10")) + member(f"{TOP}/a.py"),
        f"{_EXT} describes a sparse file",
    ),
    (
        "pax-sparse-1.0",
        pax(("GNU.sparse.major", "1"), ("GNU.sparse.name", f"{TOP}/b.py")) + member(f"{TOP}/a.py"),
        f"{_EXT} describes a sparse file",
    ),
    (
        "xattr-key",
        pax(("SCHILY.xattr.security.capability", "x")) + member(f"{TOP}/a.py"),
        f"{_EXT} has the pax key 'SCHILY.xattr.security.capability', which is not accepted",
    ),
    (
        "multi-mib-record",
        pax(("comment", "x" * (2 * 1024 * 1024))) + member(f"{TOP}/a.py"),
        f"{_EXT} is larger than 1 MiB",
    ),
    (
        "long-name-holding-nul",
        gnu_long(f"{TOP}/a.py\x00/etc/evil") + member("short", magic=GNU),
        f"{_EXT} is a GNU long-name record holding a NUL before its end",
    ),
    (
        "dangling-pax",
        pax(("path", f"{TOP}/a.py")),
        "the archive ends with an extended header that no member follows",
    ),
    (
        "dangling-long-name",
        gnu_long(f"{TOP}/a.py"),
        "the archive ends with an extended header that no member follows",
    ),
]

# One pax record before a plain member: (id, key, value, reason).
_ONE_RECORD = [
    ("size-hex", "size", "0x10", "has a pax 'size' that is not a decimal number"),
    ("uid-signed", "uid", "+5", "has a pax 'uid' that is not a decimal number"),
    ("gid-arabic-digits", "gid", "\u0661\u0662", "has a pax 'gid' that is not a decimal number"),
    ("mtime-exponent", "mtime", "1e9", "has a pax 'mtime' that is not a decimal number"),
    *(
        (
            f"hdrcharset-{value}",
            "hdrcharset",
            value,
            "sets 'hdrcharset', which changes how readers decode names",
        )
        for value in ("BINARY", "ISO-IR 8859-1 1998", "UTF-16")
    ),
]
PAX_CASES += [
    (name, pax((key, value)) + member(f"{TOP}/a.py"), f"{_EXT} {reason}")
    for name, key, value, reason in _ONE_RECORD
]

HEADER_CASES = [
    (
        "bad-checksum",
        header(f"{TOP}/a.py", checksum=b"000001\x00 "),
        f"the header at byte {FIRST} has a wrong checksum",
    ),
    (
        "checksum-not-octal",
        header(f"{TOP}/a.py", checksum=b"99999\x00 \x00"),
        f"the header at byte {FIRST} has a checksum field that is not an octal number",
    ),
    (
        "negative-base-256-size",
        header(f"{TOP}/a.py", size=b"\xff" * 12),
        f"the header at byte {FIRST} has a base-256 (or negative) size",
    ),
    (
        "positive-base-256-size",
        header(f"{TOP}/a.py", size=b"\x80" + bytes(10) + b"\x01"),
        f"the header at byte {FIRST} has a base-256 (or negative) size",
    ),
    (
        "mode-not-octal",
        header(f"{TOP}/a.py", mode=b"0000abc\x00"),
        f"the header at byte {FIRST} has a mode field that is not an octal number",
    ),
    (
        "ustar-magic-nul-version",
        header(f"{TOP}/a.py", magic=b"ustar\x00\x00\x00"),
        f"the header at byte {FIRST} is neither ustar nor GNU (magic b'ustar\\x00\\x00\\x00')",
    ),
    (
        "v7-without-magic",
        header(f"{TOP}/a.py", magic=bytes(8), prefix="evil"),
        (
            f"the header at byte {FIRST} is neither ustar nor GNU (magic "
            "b'\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00')"
        ),
    ),
    (
        "gnu-with-prefix-bytes",
        header(f"{TOP}/a.py", magic=GNU, prefix="evil"),
        f"the GNU header at byte {FIRST} has data where ustar keeps a name prefix",
    ),
]


def _cases(cases):
    return [pytest.param(piece, reason, id=name) for name, piece, reason in cases]


@pytest.mark.parametrize(
    ("piece", "reason"),
    _cases(NAME_CASES + LINK_CASES + PAX_CASES + HEADER_CASES)
    + [
        pytest.param(p, f"the member at byte {FIRST} {r}", id=n)
        for n, p, r in TYPE_CASES  # the type's sentence names the member by position
    ],
)
def test_member_structures_readers_disagree_on_are_refused(piece, reason, tmp_path):
    assert refused_with(gz(tar(piece)), tmp_path) == _not_accepted(reason)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(
            gz(tar(end=bytes(1024) + EMBEDDED + bytes(1024))),
            "the archive has data after its end marker (two zero blocks)",
            id="zero-blocks-then-members",
        ),
        pytest.param(
            gz(tar(end=bytes(512) + EMBEDDED + bytes(1024))),
            "a single zero block is followed by more data: readers that stop at the first zero "
            "block see fewer members than the others",
            id="one-zero-block-then-members",
        ),
        pytest.param(
            gz(tar(end=bytes(512))),
            "the archive ends after a single zero block instead of two",
            id="one-zero-block",
        ),
        pytest.param(
            gz(tar(end=b"")),
            "the archive ends without its end marker (two zero blocks)",
            id="no-end-marker",
        ),
        pytest.param(
            gz(pkg_info()[:-100]),
            f"the archive ends inside the data of '{TOP}/PKG-INFO'",
            id="truncated-data",
        ),
        pytest.param(
            gz(pkg_info() + b"x" * 100),
            "the archive ends inside a header",
            id="truncated-header",
        ),
        pytest.param(
            gz(tar(), after=gz(EMBEDDED + bytes(1024))),
            "the file holds a second gzip member after the first",
            id="second-gzip-member",
        ),
        pytest.param(
            gz(tar(), after=bytes(100) + gz(EMBEDDED + bytes(1024))),
            "the file holds a second gzip member after the first",
            id="second-gzip-member-after-padding",
        ),
        pytest.param(
            gz(tar(), after=b"junk"),
            "the file has data after the end of its gzip stream",
            id="junk-after-gzip-trailer",
        ),
    ],
)
def test_archives_that_end_ambiguously_are_refused(content, reason, tmp_path):
    assert refused_with(content, tmp_path) == _not_accepted(reason)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            gz(tar(member("other-1.0/evil.py"))),
            "An sdist must contain exactly one top-level directory.",
            id="two-top-dirs",
        ),
        pytest.param(
            gz(member("PKG-INFO", core_metadata("sample-pkg", "1.0")) + bytes(1024)),
            "An sdist must contain PKG-INFO/PKG-INFO.",
            id="pkg-info-at-the-root",
        ),
        pytest.param(
            gz(tar())[:-8],
            "The file is not a readable tar.gz archive.",
            id="gzip-trailer-cut",
        ),
        pytest.param(
            gz(tar())[:20] + b"\xff" * 20 + gz(tar())[40:],
            "The file is not a readable tar.gz archive.",
            id="corrupt-deflate",
        ),
    ],
)
def test_layout_and_gzip_damage_keep_their_messages(content, message, tmp_path):
    assert refused_with(content, tmp_path) == f"Invalid distribution file. {message}"


def test_only_an_absolute_pkg_info_is_refused_by_its_name(tmp_path):
    content = gz(member("/PKG-INFO", core_metadata("sample-pkg", "1.0")) + bytes(1024))

    assert refused_with(content, tmp_path) == _not_accepted(
        "the member name '/PKG-INFO' is an absolute path"
    )


# --- accepted: what tarfile and the backends write ---

LONG_DIR = f"{TOP}/src/" + "/".join(["a_rather_long_directory_name"] * 5)


def _tarfile_sdist(tar_format: int) -> bytes:
    """An sdist as setuptools' tarfile writes one: directory entries, long names, links."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tar_format) as archive:

        def add(name: str, data: bytes = b"", **attributes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            for key, value in attributes.items():
                setattr(info, key, value)
            archive.addfile(info, io.BytesIO(data))

        add(TOP, type=tarfile.DIRTYPE, mode=0o755)
        add(f"{TOP}/PKG-INFO", core_metadata("sample-pkg", "1.0"))
        add(f"{TOP}/src", type=tarfile.DIRTYPE)
        add(LONG_DIR, type=tarfile.DIRTYPE)
        add(f"{LONG_DIR}/module_with_a_long_name.py", b"VALUE = 1\n")
        add(f"{TOP}/src/donn\u00e9es.txt", "caf\u00e9\n".encode())
        add(f"{TOP}/empty.txt")
        add(f"{TOP}/run.sh", b"#!/bin/sh\n", mode=0o755)
        add(
            f"{TOP}/copy.py",
            type=tarfile.LNKTYPE,
            linkname=f"{LONG_DIR}/module_with_a_long_name.py",
        )
        add(f"{TOP}/README.md", b"# sample\n")
        add(f"{TOP}/src/README.md", type=tarfile.SYMTYPE, linkname="../README.md")
        add(f"{TOP}/docs", type=tarfile.SYMTYPE, linkname="src")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "tar_format",
    [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT],
    ids=["pax", "gnu"],
)
def test_tarfile_sdists_with_long_names_dirs_and_links_are_accepted(tar_format, tmp_path):
    content = _tarfile_sdist(tar_format)
    # tarfile pads the archive to whole 10,240-byte records.
    assert len(gzip.decompress(content)) % tarfile.RECORDSIZE == 0

    check(content, tmp_path)


def test_ustar_names_split_into_prefix_and_name_are_accepted(tmp_path):
    name = f"{TOP}/" + "d" * 90 + "/" + "f" * 90 + ".py"
    prefix, base = name.rsplit("/", 1)

    check(gz(tar(member(base, prefix=prefix))), tmp_path)


def test_gnu_long_names_as_rust_tar_writes_them_are_accepted(tmp_path):
    name = f"{TOP}/" + "n" * 150 + ".py"
    target = f"{TOP}/" + "t" * 150 + ".py"
    content = gz(
        tar(
            member(f"{TOP}/", type="5", magic=GNU),
            gnu_long(target) + member(target[:100], b"x = 1\n", magic=GNU),
            gnu_long(name)
            + gnu_long(target, kind=b"K")
            # The header's own fields hold the truncated names, as GNU tar writes them.
            + member(name[:100], type="1", linkname=target[:100], magic=GNU),
        )
    )

    check(content, tmp_path)


def test_git_archive_global_header_with_only_a_comment_is_accepted(tmp_path):
    comment = pax(("comment", "0123456789abcdef0123456789abcdef01234567"), kind=b"g")
    content = gz(comment + tar(member(f"{TOP}/a.py", b"a = 1\n"), record_size=tarfile.RECORDSIZE))

    check(content, tmp_path)


def test_pax_records_tarfile_writes_are_accepted(tmp_path):
    records = [
        ("path", f"{TOP}/p\u00e9.py"),
        ("mtime", "1700000000.123456"),
        ("atime", "1700000000"),
        ("ctime", "-1.5"),
        ("uid", "3000000"),
        ("gid", "3000000"),
        ("uname", "b\u00fcild"),
        ("gname", "staff"),
        ("size", "6"),
    ]
    content = gz(tar(pax(*records) + member("short", b"a = 1\n")))

    check(content, tmp_path)


def test_zero_padding_after_the_gzip_trailer_is_accepted(tmp_path):
    check(gz(tar(), after=bytes(512)), tmp_path)


# --- through the upload view ---


@pytest.mark.django_db
def test_upload_view_answers_a_refused_tar_structure_with_400_and_the_reason(upload):
    sdist = make_sdist()
    sdist.content = gz(tar(member(f"{TOP}/l", type="2", linkname="../../etc/passwd")))

    response = upload(sdist)

    assert response.status_code == 400
    assert refusal(response) == _not_accepted(
        f"the symbolic link '{TOP}/l' points outside the top directory"
    )


@pytest.mark.django_db
def test_upload_view_accepts_a_tarfile_pax_sdist_with_links(upload):
    sdist = make_sdist()
    sdist.content = _tarfile_sdist(tarfile.PAX_FORMAT)

    response = upload(sdist)

    assert response.status_code == 200, response.content

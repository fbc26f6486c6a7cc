"""Hostile archives: header bombs, too many entries, damaged and encrypted members.

Each is refused with a 400 and a message saying what to do, and leaves nothing behind.
"""

import gzip
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from projects.models import File, Project
from publishing.upload.archives.distributions import MAX_ARCHIVE_MEMBERS
from tests.publishing.upload.conftest import refusal
from tests.publishing.upload.dists import core_metadata, make_sdist, make_wheel

pytestmark = pytest.mark.django_db

TOO_MANY = (
    f"Invalid distribution file. The archive holds more than {MAX_ARCHIVE_MEMBERS:,} files. "
    "Leave generated, test or data files out of the distribution."
)


@pytest.fixture
def nothing_stored(settings):
    yield
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not [p for p in media.rglob("*") if p.is_file()]
    assert not File.objects.exists()
    assert not Project.objects.exists()


def refused(response) -> str:
    assert response.status_code == 400, response.content
    return refusal(response)


def _sdist_with_content(content: bytes):
    sdist = make_sdist()
    sdist.content = content
    return sdist


def _tar_gz(*blocks: bytes) -> bytes:
    # Two zero blocks end a tar archive.
    return gzip.compress(b"".join(blocks) + bytes(1024), compresslevel=1)


def _pkg_info_member() -> bytes:
    data = core_metadata("sample-pkg", "1.0")
    info = tarfile.TarInfo("sample_pkg-1.0/PKG-INFO")
    info.size = len(data)
    padding = bytes(-len(data) % tarfile.BLOCKSIZE)
    return info.tobuf(format=tarfile.USTAR_FORMAT) + data + padding


def test_sdist_with_more_members_than_the_cap_is_refused(upload, nothing_stored):
    # Empty members declare no size at all: only their count and headers can stop them.
    empty = b"".join(
        tarfile.TarInfo(f"sample_pkg-1.0/{i}").tobuf(format=tarfile.USTAR_FORMAT)
        for i in range(MAX_ARCHIVE_MEMBERS)
    )
    sdist = _sdist_with_content(_tar_gz(_pkg_info_member(), empty))

    assert refused(upload(sdist)) == TOO_MANY


def test_sdist_with_a_thousand_members_is_accepted(upload):
    members = {"sample_pkg-1.0/PKG-INFO": core_metadata("sample-pkg", "1.0")}
    members.update({f"sample_pkg-1.0/m/{i}.py": b"" for i in range(999)})

    response = upload(make_sdist(members=members))

    assert response.status_code == 200, response.content


def test_sdist_header_records_count_towards_the_unpacked_size(upload, nothing_stored):
    # Empty members whose pax headers (each under the 1 MiB cap) unpack to 70 MiB.
    headers = []
    for i in range(70):
        info = tarfile.TarInfo(f"sample_pkg-1.0/{i}")
        info.pax_headers = {"comment": "x" * (1000 * 1024)}
        headers.append(info.tobuf(format=tarfile.PAX_FORMAT))
    sdist = _sdist_with_content(_tar_gz(*headers))

    message = refused(upload(sdist))

    assert message == "Invalid distribution file. File exceeds compression ratio of 50."


def test_wheel_with_more_entries_than_the_cap_is_refused(upload, nothing_stored):
    wheel = make_wheel()
    buffer = io.BytesIO(wheel.content)
    with zipfile.ZipFile(buffer, "a") as archive:
        for i in range(MAX_ARCHIVE_MEMBERS):
            archive.writestr(zipfile.ZipInfo(f"sample_pkg/data/{i}"), b"")
    wheel.content = buffer.getvalue()

    assert refused(upload(wheel)) == TOO_MANY


def _flip_byte(content: bytes, marker: bytes) -> bytes:
    data = bytearray(content)
    data[data.index(marker)] ^= 0x20
    return bytes(data)


def test_wheel_with_a_damaged_member_is_refused(upload, nothing_stored):
    wheel = make_wheel(compression=zipfile.ZIP_STORED)
    # The stored METADATA no longer matches its CRC-32.
    wheel.content = _flip_byte(wheel.content, b"Metadata-Version")

    message = refused(upload(wheel))

    assert message == (
        "ZIP archive not accepted: the CRC-32 of 'sample_pkg-1.0.dist-info/METADATA' does not "
        "match its data."
    )


def test_wheel_with_corrupt_deflate_data_is_refused(upload, nothing_stored):
    wheel = make_wheel()
    data = bytearray(wheel.content)
    # Overwrite the compressed bytes of METADATA, right after its name in the local header.
    name = b"sample_pkg-1.0.dist-info/METADATA"
    start = data.index(name) + len(name)
    data[start : start + 8] = b"\xff" * 8
    wheel.content = bytes(data)

    message = refused(upload(wheel))

    assert message == (
        "ZIP archive not accepted: the deflate data of 'sample_pkg-1.0.dist-info/METADATA' is "
        "corrupt."
    )


def test_wheel_with_an_encrypted_member_is_refused(upload, nothing_stored):
    wheel = make_wheel()
    data = bytearray(wheel.content)
    # Set the "encrypted" flag of the first member in its local and central headers.
    data[data.index(b"PK\x03\x04") + 6] |= 1
    data[data.index(b"PK\x01\x02") + 8] |= 1
    wheel.content = bytes(data)

    message = refused(upload(wheel))

    assert message == (
        "ZIP archive not accepted: the member 'sample_pkg/__init__.py' is encrypted; build the "
        "file without encryption."
    )

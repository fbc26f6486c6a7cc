"""What real build backends and CPython's zipfile write is accepted by /legacy/ and listed.

The archive validators refuse structures two readers could unpack differently; these tests
keep them from refusing what honest tools produce. Each backend's wheel and sdist is built at
test time (real_backends.py), uploaded with the form fields twine reads from the file itself,
then looked up in the simple index and downloaded again.
"""

import hashlib
import io
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path, PurePosixPath

import pytest

from projects.models import File
from tests.publishing.upload.dists import Dist, make_wheel
from tests.publishing.upload.real_backends import (
    BACKENDS,
    EMPTY_DATA,
    KINDS,
    LONG_MODULE,
    NON_ASCII_DATA,
    RealBuilds,
    twine_upload,
)

JSON_V1 = "application/vnd.pypi.simple.v1+json"
# ustar holds a name of at most 255 bytes (155 of prefix, 100 of name): longer ones need a pax
# `path` or a GNU `L` record.
USTAR_NAME_LIMIT = 255


@pytest.fixture(scope="session")
def real_builds(tmp_path_factory) -> RealBuilds:
    return RealBuilds(tmp_path_factory.mktemp("real-backends"))


def assert_accepted_and_listed(response, client, dist: Dist, *, metadata: bytes | None) -> None:
    """The upload succeeded, the simple index lists the file, and it downloads unchanged."""
    assert response.status_code == 200, response.content
    file = File.objects.get(filename=dist.filename)
    assert file.sha256_digest == dist.sha256
    project = file.release.project.normalized_name
    listing = client.get(f"/simple/{project}/", HTTP_ACCEPT=JSON_V1)
    assert listing.status_code == 200
    [entry] = [e for e in listing.json()["files"] if e["filename"] == dist.filename]
    assert entry["hashes"] == {"sha256": dist.sha256}
    assert entry["size"] == len(dist.content)
    if metadata is not None:
        assert entry["core-metadata"] == {"sha256": hashlib.sha256(metadata).hexdigest()}
    download = client.get(entry["url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == dist.content


def _wheel_metadata(path: Path) -> bytes:
    with zipfile.ZipFile(path) as wheel:
        [name] = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        return wheel.read(name)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_real_backend_dist_is_accepted_and_listed(real_builds, upload, client, backend, kind):
    path = real_builds.path(backend, kind)
    dist, fields = twine_upload(path)

    response = upload(dist, fields=fields)

    metadata = _wheel_metadata(path) if kind == "wheel" else None
    assert_accepted_and_listed(response, client, dist, metadata=metadata)


# The members each kind of archive must hold for the test above to mean something: if a
# backend stops writing one of them, the acceptance test no longer covers it.
def _wheel_members(path: Path) -> dict[str, int]:
    """Member name -> Unix mode, from the central directory."""
    with zipfile.ZipFile(path) as wheel:
        return {info.filename: info.external_attr >> 16 for info in wheel.infolist()}


def _sdist_members(path: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(path) as sdist:
        return {member.name: member for member in sdist.getmembers()}


@pytest.mark.parametrize("backend", BACKENDS)
def test_real_wheel_holds_the_structures_it_stands_for(real_builds, backend):
    members = _wheel_members(real_builds.path(backend, "wheel"))

    assert f"realpkg/{LONG_MODULE}" in members
    assert len(f"realpkg/{LONG_MODULE}".encode()) > USTAR_NAME_LIMIT
    assert f"realpkg/{NON_ASCII_DATA}" in members
    assert f"realpkg/{EMPTY_DATA}" in members
    assert "realpkg/sub/inner/__init__.py" in members
    # Every backend follows source links: both names hold a regular file in the wheel.
    assert {"realpkg/target.txt", "realpkg/hardlinked.txt"} <= members.keys()
    data = [name for name in members if name.split("/", 1)[0].endswith(".data")]
    assert data, f"{backend} wrote nothing under *.data/"
    scripts = [name for name in data if "/scripts/" in name and not name.endswith("/")]
    if backend != "flit-core":  # flit-core has external data, no scripts
        assert scripts, f"{backend} wrote no *.data/scripts/ member"
        assert all(members[name] & 0o111 for name in scripts)


@pytest.mark.parametrize("backend", BACKENDS)
def test_real_sdist_holds_the_structures_it_stands_for(real_builds, backend):
    members = _sdist_members(real_builds.path(backend, "sdist"))
    top = next(iter(members)).split("/", 1)[0]

    assert f"{top}/PKG-INFO" in members
    assert f"{top}/src/realpkg/{LONG_MODULE}" in members
    assert len(f"{top}/src/realpkg/{LONG_MODULE}".encode()) > USTAR_NAME_LIMIT
    assert f"{top}/src/realpkg/{NON_ASCII_DATA}" in members
    assert members[f"{top}/src/realpkg/{EMPTY_DATA}"].size == 0
    assert {f"{top}/src/realpkg/target.txt", f"{top}/src/realpkg/hardlinked.txt"} <= members.keys()


def test_real_sdists_together_hold_links_directories_and_executables(real_builds):
    members = [
        member
        for backend in BACKENDS
        for member in _sdist_members(real_builds.path(backend, "sdist")).values()
    ]

    assert any(member.issym() for member in members)
    assert any(member.islnk() for member in members)
    assert any(member.isdir() for member in members)
    assert any(member.isfile() and member.mode & 0o111 for member in members)


# CPython-made ZIP structures that real wheels carry (archives.md §5): each is rewritten from
# a hand-made wheel, members and RECORD unchanged.
def _force_zip64(archive: zipfile.ZipFile, members: list[tuple[zipfile.ZipInfo, bytes]]) -> None:
    """A ZIP64 extra in every local header, though each member is a few bytes."""
    for info, data in members:
        with archive.open(info, "w", force_zip64=True) as member:
            member.write(data)


def _directory_entries(
    archive: zipfile.ZipFile, members: list[tuple[zipfile.ZipInfo, bytes]]
) -> None:
    """`name/` entries of size 0 for every directory, as `ZipFile.mkdir()` writes them."""
    directories = sorted(
        {str(parent) for info, _ in members for parent in PurePosixPath(info.filename).parents}
        - {"."}
    )
    for directory in directories:
        archive.mkdir(directory)
    for info, data in members:
        archive.writestr(info, data)


def _archive_comment(
    archive: zipfile.ZipFile, members: list[tuple[zipfile.ZipInfo, bytes]]
) -> None:
    """An end-of-central-directory comment holding no record signature."""
    archive.comment = b"built by the Gatehouse tests"
    for info, data in members:
        archive.writestr(info, data)


def _rewritten(
    dist: Dist, write: Callable[[zipfile.ZipFile, list[tuple[zipfile.ZipInfo, bytes]]], None]
) -> Dist:
    with zipfile.ZipFile(io.BytesIO(dist.content)) as original:
        members = [(info, original.read(info)) for info in original.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        write(archive, members)
    return replace(dist, content=buffer.getvalue())


@pytest.mark.django_db
@pytest.mark.parametrize(
    "write",
    [_force_zip64, _directory_entries, _archive_comment],
    ids=["force-zip64", "mkdir-entries", "archive-comment"],
)
def test_cpython_zip_structures_are_accepted_in_wheels(upload, client, write):
    plain = make_wheel("sample-pkg", "1.0")
    wheel = _rewritten(plain, write)
    assert wheel.content != plain.content

    response = upload(wheel)

    with zipfile.ZipFile(io.BytesIO(wheel.content)) as archive:
        metadata = archive.read("sample_pkg-1.0.dist-info/METADATA")
    assert_accepted_and_listed(response, client, wheel, metadata=metadata)

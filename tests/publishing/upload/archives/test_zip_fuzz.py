"""Wheels mutated byte by byte and entry by entry, uploaded: never a server error, and whatever is
accepted reads the same to CPython's `zipfile` (the central directory) and to a reader that
follows the local headers as streaming installers do."""

import io
import struct
import zipfile
import zlib

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.publishing.upload.archives.zip_builder import Member, build
from tests.publishing.upload.dists import Dist, make_wheel

pytestmark = pytest.mark.django_db

_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_ZIP64_EXTRA = 0x0001


def local_header_reading(content: bytes) -> list[tuple[str, bytes]]:
    """Each member's name and contents as a streaming reader sees them: local header after local
    header from byte 0, each followed by its data, until a record that is not a local header."""
    members = []
    position = 0
    while content[position : position + 4] == b"PK\x03\x04":
        fields = _LOCAL.unpack_from(content, position)
        _, _, flags, method, _, _, _, compressed_size, size, name_length, extra_length = fields
        name_start = position + _LOCAL.size
        raw_name = content[name_start : name_start + name_length]
        extra = content[name_start + name_length : name_start + name_length + extra_length]
        size, compressed_size = _zip64_sizes(extra, size, compressed_size)
        data_start = name_start + name_length + extra_length
        data = content[data_start : data_start + compressed_size]
        if method == 8:
            inflater = zlib.decompressobj(-15)
            data = inflater.decompress(data) + inflater.flush()
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437")
        members.append((name, data))
        position = data_start + compressed_size
    return members


def _zip64_sizes(extra: bytes, size: int, compressed_size: int) -> tuple[int, int]:
    position = 0
    while position + 4 <= len(extra):
        block_id, length = struct.unpack_from("<HH", extra, position)
        if block_id == _ZIP64_EXTRA and length >= 16:
            return struct.unpack_from("<QQ", extra, position + 4)
        position += 4 + length
    return size, compressed_size


def central_directory_reading(content: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def _entries(content: bytes) -> list[Member]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return [
            Member(info.filename, archive.read(info), method=info.compress_type)
            for info in archive.infolist()
        ]


@st.composite
def byte_mutations(draw, content: bytes) -> bytes:
    data = bytearray(content)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        kind = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        position = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            data[position] = draw(st.sampled_from([0x00, 0xFF, 0x2F, 0x5C, 0x08, 0x0A]))
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[position : position + draw(st.integers(1, 8))]
        else:
            del data[position:]
    return bytes(data)


@st.composite
def structural_mutations(draw, content: bytes) -> bytes:
    members = _entries(content)
    count = len(members)
    options: dict = {}
    kind = draw(
        st.sampled_from(
            [
                *("swap", "duplicate", "rename", "rename-local", "drop-local", "drop-central"),
                *("method", "trailing", "prefix", "stored-lie", "order"),
            ]
        )
    )
    index = draw(st.integers(0, count - 1))
    member = members[index]
    if kind == "swap":
        other = draw(st.integers(0, count - 1))
        members[index], members[other] = members[other], members[index]
    elif kind == "duplicate":
        copy = Member(member.name, draw(st.binary(max_size=40)) or member.data)
        members.insert(draw(st.integers(0, count)), copy)
    elif kind in ("rename", "rename-local"):
        name = draw(
            st.sampled_from(["../x.py", "/abs.py", "a\\b.py", "A.py", "a\x00.py", "./a.py"])
            | st.text(min_size=1, max_size=20)
        )
        if kind == "rename":
            member.name = name
        else:
            member.local = {"name": name.encode()}
    elif kind == "drop-local":
        options["omit_local"] = (index,)
    elif kind == "drop-central":
        options["omit_central"] = (index,)
    elif kind == "method":
        member.method = draw(st.sampled_from([0, 8]))
    elif kind == "trailing":
        options["trailing"] = draw(st.binary(min_size=1, max_size=30))
    elif kind == "prefix":
        options["prefix"] = draw(st.binary(min_size=1, max_size=30))
        options["count_prefix"] = draw(st.booleans())
    elif kind == "stored-lie":
        member.method = 0
        member.central = {"size": draw(st.integers(0, len(member.data) + 5))}
    else:
        options["central_order"] = draw(st.permutations(list(range(count))))
    return build(members, **options)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_mutated_wheels_never_fail_the_server_and_accepted_ones_read_the_same(upload, data):
    version = f"1.{data.draw(st.integers(0, 10**9))}"
    wheel = make_wheel(version=version, extra_members={"sample_pkg/data.txt": b"data " * 30})
    content = data.draw(
        st.one_of(byte_mutations(wheel.content), structural_mutations(wheel.content))
    )
    mutated = Dist(**{**wheel.__dict__, "content": content})

    response = upload(mutated)

    assert response.status_code < 500, response.content
    event("accepted" if response.status_code == 200 else "refused")
    if response.status_code == 200:
        assert local_header_reading(content) == central_directory_reading(content)


def test_the_two_readers_see_what_was_written():
    wheel = make_wheel()

    assert local_header_reading(wheel.content) == central_directory_reading(wheel.content)
    assert local_header_reading(wheel.content)[0] == ("sample_pkg/__init__.py", b"VALUE = 1\n")


def test_the_local_header_reader_sees_what_a_central_directory_reader_misses():
    # A local entry the central directory does not list: a streaming installer writes it.
    members = [Member("a.py", b"a"), Member("evil.py", b"import os"), Member("b.py", b"b")]
    content = build(members, omit_central=(1,))

    assert [name for name, _ in local_header_reading(content)] == ["a.py", "evil.py", "b.py"]
    assert [name for name, _ in central_directory_reading(content)] == ["a.py", "b.py"]

"""The upload handler hashes while writing, once, and stops at the size limit."""

import hashlib
import io
import os

import pytest
from django.core.files.uploadhandler import StopUpload

from publishing.upload.stream import CHUNK_SIZE, HashingUploadHandler, RawFilenameMultiPartParser
from tests.publishing.upload.dists import multipart_body


def feed(handler: HashingUploadHandler, data: bytes, *, field: str = "content"):
    handler.new_file(field, "sample_pkg-1.0-py3-none-any.whl", "application/octet-stream", None)
    for start in range(0, len(data), CHUNK_SIZE):
        handler.receive_data_chunk(data[start : start + CHUNK_SIZE], start)
    return handler.file_complete(len(data))


# Small files are hashed in the request thread, larger ones in helper threads.
@pytest.mark.parametrize("size", [3 * CHUNK_SIZE + 17, 9 * CHUNK_SIZE + 5])
def test_digests_are_computed_while_the_file_arrives(size):
    data = os.urandom(size)

    upload = feed(HashingUploadHandler(max_size=10 * CHUNK_SIZE), data)

    assert upload.size == len(data)
    assert upload.digests.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert upload.digests.sha256 == hashlib.sha256(data).hexdigest()
    assert upload.digests.blake2_256 == hashlib.blake2b(data, digest_size=32).hexdigest()
    with open(upload.temporary_file_path(), "rb") as written:  # noqa: PTH123 - a temp file path
        assert written.read() == data
    upload.close()


def test_client_filename_is_kept_verbatim_for_validation():
    upload = feed(HashingUploadHandler(max_size=CHUNK_SIZE), b"x")

    assert upload.raw_filename == "sample_pkg-1.0-py3-none-any.whl"
    upload.close()


def test_reading_stops_at_the_chunk_that_passes_the_limit():
    handler = HashingUploadHandler(max_size=6 * CHUNK_SIZE + 10)
    handler.new_file("content", "big.whl", "application/octet-stream", None)
    for index in range(6):
        handler.receive_data_chunk(b"x" * CHUNK_SIZE, index * CHUNK_SIZE)
    path = handler._file.temporary_file_path()

    with pytest.raises(StopUpload) as stopped:
        handler.receive_data_chunk(b"x" * CHUNK_SIZE, 6 * CHUNK_SIZE)

    assert handler.is_too_large
    # The rest of the body is drained (not reset), so the client reads the answer.
    assert stopped.value.connection_reset is False
    assert not os.path.exists(path)  # noqa: PTH110 - a temp file path


def test_declared_part_length_over_the_limit_stops_before_reading():
    handler = HashingUploadHandler(max_size=100)

    with pytest.raises(StopUpload):
        handler.new_file("content", "big.whl", "application/octet-stream", 101)

    assert handler.is_too_large


def test_other_file_parts_are_recorded_not_kept():
    handler = HashingUploadHandler(max_size=CHUNK_SIZE)

    assert feed(handler, b"x", field="summary") is None
    assert feed(handler, b"sig", field="gpg_signature") is None

    assert handler.unexpected_file_fields == ["summary"]


class RecordingStream:
    """A request body that remembers how much each read asked for."""

    def __init__(self, body: bytes) -> None:
        self._body = io.BytesIO(body)
        self.reads: list[int] = []

    def read(self, size: int = -1) -> bytes:
        self.reads.append(size)
        return self._body.read(size)


def test_the_body_is_read_in_growing_chunks_and_fields_across_reads_stay_whole():
    description = "".join(f"line {n}\n" for n in range(30_000))  # ~250 KB: spans several reads
    content = os.urandom(3 * CHUNK_SIZE)
    body, content_type = multipart_body(
        {":action": "file_upload", "description": description, "name": "sample-pkg"},
        filename="sample_pkg-1.0-py3-none-any.whl",
        content=content,
        content_type="application/octet-stream",
    )
    stream = RecordingStream(body)
    handler = HashingUploadHandler(max_size=10 * CHUNK_SIZE)
    meta = {"CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body))}

    post, files = RawFilenameMultiPartParser(meta, stream, [handler], "utf-8").parse()

    first = 64 * 1024
    assert stream.reads[:5] == [first, 2 * first, 4 * first, 8 * first, CHUNK_SIZE]
    assert stream.reads[5] == CHUNK_SIZE  # then full chunks
    assert max(stream.reads) == CHUNK_SIZE
    assert post["description"] == description
    assert post["name"] == "sample-pkg"
    upload = files["content"]
    assert upload.size == len(content)
    assert upload.digests.sha256 == hashlib.sha256(content).hexdigest()
    upload.close()

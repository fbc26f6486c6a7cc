"""Read an upload's body once: hash it while writing it to a temporary file, stop at the limit.

Django's multipart parser hands the `content` part to `HashingUploadHandler` chunk by chunk. Each
chunk updates md5, sha256 and blake2b-256 (hashlib, in C) and is written to a temporary file (for
large files in two helper threads, so receiving, hashing and writing overlap), so
the server's memory stays flat whatever the file size and the file is never read a second time
for its digests. Once the size passes the limit the handler stops writing and hashing; the rest
of the body is drained and discarded so the client still reads the answer instead of a reset
connection.
"""

import hashlib
import queue
import threading
from dataclasses import dataclass

from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParser

# Large chunks keep the per-chunk Python overhead negligible next to hashing (a multiple of 4,
# as Django requires for base64 parts).
CHUNK_SIZE = 1024 * 1024
# Parts sent as files that are ignored rather than refused (twine's legacy `--sign`).
IGNORED_FILE_FIELDS = frozenset({"gpg_signature"})


@dataclass(frozen=True)
class Digests:
    md5: str
    sha256: str
    blake2_256: str


class HashedUpload(TemporaryUploadedFile):
    """The uploaded distribution on disk, with the digests computed while it arrived."""

    digests: Digests
    raw_filename: str


class _Sink:
    """The three digests and the temporary file of one upload.

    Small files are hashed and written in the request thread. Past `THREADED_AFTER` bytes two
    helper threads take over, one hashing and one writing, while the request thread receives the
    next chunk: hashlib and file writes release the GIL on large buffers, so receiving, hashing
    and writing overlap instead of adding up. Their queues are bounded, so memory stays at a few
    chunks whatever the file size.
    """

    THREADED_AFTER = 4 * CHUNK_SIZE
    QUEUE_CHUNKS = 3

    def __init__(self, file: HashedUpload) -> None:
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha256 = hashlib.sha256()
        self.blake2 = hashlib.blake2b(digest_size=32)
        self.size = 0
        self._file = file
        self._error: BaseException | None = None
        self._queues: list[queue.Queue] = []
        self._threads: list[threading.Thread] = []

    def _hash(self, chunk: bytes) -> None:
        self.md5.update(chunk)
        self.sha256.update(chunk)
        self.blake2.update(chunk)

    def _write(self, chunk: bytes) -> None:
        self._file.write(chunk)

    def put(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if not self._threads and self.size <= self.THREADED_AFTER:
            self._hash(chunk)
            self._write(chunk)
            return
        if not self._threads:
            self._start_threads()
        for chunks in self._queues:
            chunks.put(chunk)

    def _start_threads(self) -> None:
        for work in (self._hash, self._write):
            chunks: queue.Queue = queue.Queue(maxsize=self.QUEUE_CHUNKS)
            thread = threading.Thread(target=self._run, args=(work, chunks), daemon=True)
            self._queues.append(chunks)
            self._threads.append(thread)
            thread.start()

    def _run(self, work, chunks: queue.Queue) -> None:
        while (chunk := chunks.get()) is not None:
            if self._error is None:
                try:
                    work(chunk)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the request thread
                    self._error = exc

    def finish(self) -> Digests:
        """Wait for every chunk to be hashed and written; raise what a helper thread raised."""
        self.stop()
        if self._error is not None:
            raise OSError("Writing the upload to a temporary file failed.") from self._error
        return Digests(
            md5=self.md5.hexdigest(),
            sha256=self.sha256.hexdigest(),
            blake2_256=self.blake2.hexdigest(),
        )

    def stop(self) -> None:
        for chunks in self._queues:
            chunks.put(None)
        for thread in self._threads:
            thread.join()
        self._queues = []
        self._threads = []


class HashingUploadHandler(FileUploadHandler):
    """Stream the `content` part to a temporary file, hashing it, up to `max_size` bytes."""

    chunk_size = CHUNK_SIZE

    def __init__(self, request: HttpRequest | None = None, *, max_size: int) -> None:
        super().__init__(request)
        self.max_size = max_size
        self.is_too_large = False
        self.unexpected_file_fields: list[str] = []
        self.content_parts = 0
        self._file: HashedUpload | None = None
        self._pipeline: _Sink | None = None
        self._discarding = False
        self._size = 0

    def new_file(  # noqa: PLR0917 - Django's FileUploadHandler signature
        self,
        field_name,
        file_name,
        content_type,
        content_length,
        charset=None,
        content_type_extra=None,
    ):
        super().new_file(
            field_name, file_name, content_type, content_length, charset, content_type_extra
        )
        self._discarding = True
        if field_name != "content":
            if field_name not in IGNORED_FILE_FIELDS:
                self.unexpected_file_fields.append(field_name)
            return
        self.content_parts += 1
        if self.content_parts > 1:
            # Counted and discarded: the pipeline refuses a `content` sent twice.
            return
        if content_length is not None and content_length > self.max_size:
            self._stop_too_large()
        self._discarding = False
        # The client's filename is kept verbatim for validation; the temporary file's own name
        # is never used for storage (the stored path comes from the blake2 digest).
        self._file = HashedUpload("upload.bin", content_type, 0, charset, content_type_extra)
        self._file.raw_filename = file_name
        self._pipeline = _Sink(self._file)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        if self._discarding:
            return
        self._size += len(raw_data)
        if self._size > self.max_size:
            self._stop_too_large()
        assert self._pipeline is not None  # noqa: S101 - set by new_file for the content part
        self._pipeline.put(raw_data)

    def file_complete(self, file_size: int) -> HashedUpload | None:
        if self._discarding or self._file is None or self._pipeline is None:
            return None
        self._discarding = True
        try:
            digests = self._pipeline.finish()
        except OSError:
            self._discard_file()
            raise
        self._pipeline = None
        self._file.flush()
        self._file.seek(0)
        self._file.size = self._size
        self._file.digests = digests
        return self._file

    def upload_interrupted(self) -> None:
        self._discard_file()

    def _stop_too_large(self) -> None:
        self.is_too_large = True
        self._discard_file()
        # connection_reset=False: Django drains the rest of the body without keeping it, so the
        # client gets the "File too large" answer rather than a broken pipe.
        raise StopUpload(connection_reset=False)

    def _discard_file(self) -> None:
        self._discarding = True
        if self._pipeline is not None:
            self._pipeline.stop()
            self._pipeline = None
        if self._file is not None:
            self._file.close()
            self._file = None


class _GrowingReads:
    """A body stream whose reads start small and double up to the size asked for.

    After each field, Django's parser copies the unread rest of its buffer. The metadata fields
    come first and are small: read in 1 MiB chunks, every one of them would copy most of a
    megabyte. Read this way they are parsed out of a small buffer, and the file after them
    still streams in full-size chunks.
    """

    FIRST_READ = 64 * 1024

    def __init__(self, stream) -> None:
        self._stream = stream
        self._limit = self.FIRST_READ

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return self._stream.read()
        if size > self._limit:
            size = self._limit
            self._limit *= 2
        return self._stream.read(size)


class RawFilenameMultiPartParser(MultiPartParser):
    """Django's parser, reading the body in growing chunks (see `_GrowingReads`); the file
    part's filename reaches the handler unaltered.

    Django strips path separators and control characters from filenames; the upload API refuses
    such names with a message instead of silently storing a different name.
    """

    def __init__(self, META, input_data, upload_handlers, encoding=None) -> None:  # noqa: N803 - Django's name
        # The parser only calls read(), all that _GrowingReads offers.
        super().__init__(META, _GrowingReads(input_data), upload_handlers, encoding)  # type: ignore[arg-type]

    def sanitize_file_name(self, file_name: str) -> str | None:
        return file_name or None

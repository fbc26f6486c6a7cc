"""Read an upload's body once: hash it while writing it to a temporary file, stop at the limit.

Django's multipart parser hands the `content` part to `HashingUploadHandler` chunk by chunk. Each
chunk updates md5, sha256 and blake2b-256 (hashlib, in C) and is written to a temporary file, so
the server's memory stays flat whatever the file size and the file is never read a second time
for its digests. Once the size passes the limit the handler stops writing and hashing; the rest
of the body is drained and discarded so the client still reads the answer instead of a reset
connection.
"""

import hashlib
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
        self._discarding = False
        self._size = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha256 = hashlib.sha256()
        self._blake2 = hashlib.blake2b(digest_size=32)

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
            return
        if content_length is not None and content_length > self.max_size:
            self._stop_too_large()
        self._discarding = False
        # The client's filename is kept verbatim for validation; the temporary file's own name
        # is never used for storage (the stored path comes from the blake2 digest).
        self._file = HashedUpload("upload.bin", content_type, 0, charset, content_type_extra)
        self._file.raw_filename = file_name

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        if self._discarding:
            return
        self._size += len(raw_data)
        if self._size > self.max_size:
            self._stop_too_large()
        self._md5.update(raw_data)
        self._sha256.update(raw_data)
        self._blake2.update(raw_data)
        assert self._file is not None  # noqa: S101 - set by new_file for the content part
        self._file.write(raw_data)

    def file_complete(self, file_size: int) -> HashedUpload | None:
        if self._discarding or self._file is None:
            return None
        self._discarding = True
        self._file.flush()
        self._file.seek(0)
        self._file.size = self._size
        self._file.digests = Digests(
            md5=self._md5.hexdigest(),
            sha256=self._sha256.hexdigest(),
            blake2_256=self._blake2.hexdigest(),
        )
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
        if self._file is not None:
            self._file.close()
            self._file = None


class RawFilenameMultiPartParser(MultiPartParser):
    """Django's parser, but the file part's filename reaches the handler unaltered.

    Django strips path separators and control characters from filenames; the upload API refuses
    such names with a message instead of silently storing a different name.
    """

    def sanitize_file_name(self, file_name: str) -> str | None:
        return file_name or None

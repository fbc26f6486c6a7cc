"""The upload form's own fields, checked before the metadata (PyPI's `UploadForm`).

Field names and messages follow warehouse, so clients and people used to PyPI see the same text.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.http import QueryDict

from projects.names import PROJECT_NAME_RE
from publishing.upload_errors import UploadError

CORE_METADATA_HELP = (
    "See https://packaging.python.org/specifications/core-metadata for more information."
)
PYVERSION_MAX_LENGTH = 64
FILETYPES = frozenset({"sdist", "bdist_wheel"})
_SHA256_RE = re.compile(r"^[A-Fa-f0-9]{64}\Z")
_MD5_RE = re.compile(r"^[A-Fa-f0-9]{32}\Z")
_DIGEST_FIELDS = (
    ("md5_digest", _MD5_RE, "Use a valid, hex-encoded, MD5 message digest."),
    ("sha256_digest", _SHA256_RE, "Use a valid, hex-encoded, SHA256 message digest."),
    ("blake2_256_digest", _SHA256_RE, "Use a valid, hex-encoded, BLAKE2 message digest."),
)


@dataclass(frozen=True)
class UploadForm:
    name: str
    filetype: str
    pyversion: str
    md5_digest: str
    sha256_digest: str
    blake2_256_digest: str
    comment: str


def sanitize_form(post: QueryDict) -> QueryDict:
    """Return a copy without the placeholder "UNKNOWN" values and with NUL bytes made visible.

    Old setuptools wrote "UNKNOWN" for every missing field: it means "absent", as on PyPI. A NUL
    byte cannot be stored in PostgreSQL text, so it becomes the four characters `\\x00`.
    """
    clean = QueryDict(mutable=True)
    for key, values in post.lists():
        for value in values:
            if value.strip() == "UNKNOWN":
                continue
            clean.appendlist(key, value.replace("\x00", "\\x00"))
    return clean


def check_no_file_fields(names: Iterable[str]) -> None:
    """Refuse metadata fields that were sent as file parts."""
    for name in names:
        raise UploadError(f"{name}: Should not be a tuple.")


def check_protocol_version(post: QueryDict) -> None:
    if post.get("protocol_version", "1") != "1":
        raise UploadError("Unknown protocol version.")


def validate_upload_form(post: QueryDict) -> UploadForm:
    """Return the upload's non-metadata fields; raise UploadError on the first fault."""
    name = post.get("name", "")
    if not name or not PROJECT_NAME_RE.match(name):
        shown = name if len(name) <= 60 else f"{name[:30]}...{name[-30:]}"
        reason = (
            "This field is required."
            if not name
            else "Start and end with a letter or numeral containing only ASCII numeric and "
            "'.', '_' and '-'."
        )
        raise UploadError(
            f"'{shown}' is an invalid value for Name. Error: {reason} {CORE_METADATA_HELP}"
        )
    if not post.get("version", ""):
        raise UploadError(
            f"'' is an invalid value for Version. Error: This field is required. "
            f"{CORE_METADATA_HELP}"
        )
    filetype = post.get("filetype", "")
    if filetype not in FILETYPES:
        raise UploadError(
            "Invalid value for filetype. Error: Use a known file type: 'sdist' or 'bdist_wheel'."
        )
    pyversion = post.get("pyversion", "")
    if filetype == "sdist":
        if pyversion and pyversion != "source":
            raise UploadError(
                "Invalid value for pyversion. Error: Use 'source' as Python version for an sdist."
            )
        pyversion = "source"
    elif not pyversion:
        raise UploadError(
            "Invalid value for pyversion. Error: Python version is required for binary "
            "distribution uploads."
        )
    if len(pyversion) > PYVERSION_MAX_LENGTH:
        raise UploadError(
            f"Invalid value for pyversion. Error: Use at most {PYVERSION_MAX_LENGTH} characters."
        )
    digests = {}
    for field, pattern, message in _DIGEST_FIELDS:
        value = post.get(field, "").strip()
        if value and not pattern.match(value):
            raise UploadError(f"Invalid value for {field}. Error: {message}")
        digests[field] = value.lower()
    if not any(digests.values()):
        raise UploadError("Error: Include at least one message digest.")
    return UploadForm(
        name=name,
        filetype=filetype,
        pyversion=pyversion,
        comment=post.get("comment", ""),
        **digests,
    )

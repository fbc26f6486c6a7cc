"""The upload form's own fields, checked before the metadata (PyPI's `UploadForm`).

Field names and messages follow warehouse, so clients and people used to PyPI see the same text.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.http import QueryDict

from index_site.control_characters import check_control_characters, normalize_line_breaks
from index_site.single_values import RepeatedFieldError, check_single_values
from projects.names import PROJECT_NAME_RE
from publishing.upload.errors import UploadError

CORE_METADATA_HELP = (
    "See https://packaging.python.org/specifications/core-metadata for more information."
)
PYVERSION_MAX_LENGTH = 64
FILETYPES = frozenset({"sdist", "bdist_wheel"})
_SHA256_RE = re.compile(r"^[A-Fa-f0-9]{64}\Z")
_MD5_RE = re.compile(r"^[A-Fa-f0-9]{32}\Z")
# Free text kept as sent, line breaks and all: the long description is rendered (and sanitised)
# as a document, never shown raw. `license` may hold a whole licence text, and a `comment` is
# a note: both keep line breaks and tabs but no other control character.
UNCHECKED_TEXT_FIELDS = frozenset({"description"})
MULTI_LINE_FIELDS = frozenset({"license", "comment"})
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


def check_sent_once(post: QueryDict, *, repeatable: Iterable[str], content_parts: int) -> None:
    """Refuse a field that is not a list field, or the `content` part, sent more than once.

    Run on the form as parsed, before any field is read: `QueryDict.get` would silently take the
    last copy, while a proxy or log saw the first.
    """
    allowed = frozenset(repeatable)
    check_single_values(post, (key for key in post if key not in allowed))
    # A second file part, or a `content` text field beside the file part, is a second content.
    if content_parts + len(post.getlist("content")) > 1:
        raise RepeatedFieldError("content")


def check_text_fields(post: QueryDict) -> None:
    """Refuse control characters in every field but the description, naming the field.

    Run before `sanitize_form`, so a NUL byte is refused rather than made visible.
    """
    for key, values in post.lists():
        if key in UNCHECKED_TEXT_FIELDS:
            continue
        multiline = key in MULTI_LINE_FIELDS
        for value in values:
            # A licence file written on Windows has `\r\n` line breaks; they are line breaks.
            checked = normalize_line_breaks(value) if multiline else value
            message = check_control_characters(f"'{key}'", checked, multiline=multiline)
            if message is not None:
                raise UploadError(message)


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

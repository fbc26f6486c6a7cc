"""Turn the upload form into validated core metadata: packaging's rules plus PyPI's.

The form's keys are core-metadata names in snake case; list fields repeat the key, project URLs
arrive as "Label, URL". Unknown keys (attestations, future fields) are ignored, and an empty
value counts as absent (uv always sends `requires_python`, empty or not).
"""

import email.utils
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import trove_classifiers
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.http import QueryDict
from packaging.metadata import InvalidMetadata, Metadata, RawMetadata
from packaging.requirements import InvalidRequirement, Requirement

from publishing.upload.errors import UploadError
from publishing.upload.form import CORE_METADATA_HELP

SUPPORTED_METADATA_VERSIONS = frozenset({"1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5"})
SUMMARY_MAX_LENGTH = 512
# Column sizes of Release/File: longer values are refused here, not by the database.
VERSION_MAX_LENGTH = 100
REQUIRES_PYTHON_MAX_LENGTH = 255
PROJECT_URL_LABEL_MAX_LENGTH = 32
VERSION_SPECIFIERS_HELP = (
    "See https://packaging.python.org/specifications/version-specifiers for more information."
)

_STRING_FIELDS = (
    "metadata_version",
    "name",
    "version",
    "summary",
    "description",
    "description_content_type",
    "home_page",
    "download_url",
    "author",
    "author_email",
    "maintainer",
    "maintainer_email",
    "license",
    "license_expression",
    "requires_python",
)
# Form key -> RawMetadata key for the repeated fields. Import names (metadata 2.5) are not read:
# nothing here uses them, and an older Metadata-Version must not make them fail an upload.
_LIST_FIELDS = {
    "classifiers": "classifiers",
    "platform": "platforms",
    "supported_platform": "supported_platforms",
    "requires": "requires",
    "provides": "provides",
    "obsoletes": "obsoletes",
    "requires_dist": "requires_dist",
    "provides_dist": "provides_dist",
    "obsoletes_dist": "obsoletes_dist",
    "requires_external": "requires_external",
    "provides_extra": "provides_extra",
    "dynamic": "dynamic",
    "license_file": "license_files",
}
# Every form key that may repeat: the list fields above, project URLs, and the import names of
# metadata 2.5 (uv sends `import_names`; warehouse reads `import_name`), read by no one here but
# lists by nature. Any other key sent twice is refused (`form.check_sent_once`).
REPEATABLE_FIELDS = frozenset(
    {
        *_LIST_FIELDS,
        "project_urls",
        "import_names",
        "import_namespaces",
        "import_name",
        "import_namespace",
    }
)
# Reported first when several fields are wrong, then the rest alphabetically (as PyPI does).
_FIELD_PRIORITY = ("metadata_version", "name", "version")
_email_validator = EmailValidator()


class _FieldError(Exception):
    def __init__(self, field: str, message: str, *, help_text: str = CORE_METADATA_HELP) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.help_text = help_text


def _raw_metadata_from_form(post: QueryDict) -> RawMetadata:
    """Map the form to packaging's RawMetadata, raising UploadError for unparseable shapes."""
    raw: dict[str, Any] = {}
    for key in _STRING_FIELDS:
        value = post.get(key, "")
        if value:
            raw[key] = value
    for key, raw_key in _LIST_FIELDS.items():
        values = [value for value in post.getlist(key) if value]
        if values:
            raw.setdefault(raw_key, []).extend(values)
    keywords = post.get("keywords", "")
    if keywords:
        raw["keywords"] = [word.strip() for word in keywords.split(",") if word.strip()]
    project_urls: dict[str, str] = {}
    for entry in post.getlist("project_urls"):
        if not entry:
            continue
        label, separator, url = entry.partition(",")
        if not separator:
            raise UploadError(f"'project_urls' has invalid data. {CORE_METADATA_HELP}")
        project_urls[label.strip()] = url.strip()
    if project_urls:
        raw["project_urls"] = project_urls
    return raw  # type: ignore[return-value]


@dataclass(frozen=True)
class UploadMetadata:
    """The upload's core metadata: validated (`core`), and as sent (`raw`, kept with the
    release)."""

    core: Metadata
    raw: RawMetadata


def parse_upload_metadata(post: QueryDict) -> UploadMetadata:
    """Read and validate the form's metadata once; raise UploadError naming the first field at
    fault."""
    raw = _raw_metadata_from_form(post)
    errors: list[_FieldError] = []
    metadata_version = raw.get("metadata_version", "")
    if metadata_version and metadata_version not in SUPPORTED_METADATA_VERSIONS:
        errors.append(
            _FieldError("metadata_version", f"'{metadata_version}' is not a valid metadata version")
        )
        raw.pop("metadata_version")
    metadata = None
    try:
        metadata = Metadata.from_raw(raw, validate=True)
    except ExceptionGroup as group:
        for error in group.exceptions:
            if isinstance(error, InvalidMetadata):
                errors.append(_FieldError(error.field, str(error)))
            else:
                raise
    if metadata is not None:
        errors.extend(_pypi_rule_errors(metadata))
    if errors:
        first = min(errors, key=_error_rank)
        raise UploadError(f"{first.message}. {first.help_text}")
    assert metadata is not None  # noqa: S101 - from_raw either returns or raised above
    return UploadMetadata(core=metadata, raw=raw)


def _error_rank(error: _FieldError) -> tuple[int, str]:
    if error.field in _FIELD_PRIORITY:
        return (_FIELD_PRIORITY.index(error.field), "")
    return (len(_FIELD_PRIORITY), error.field)


def _pypi_rule_errors(metadata: Metadata) -> list[_FieldError]:  # noqa: PLR0912 - a branch per PyPI rule
    errors: list[_FieldError] = []
    if metadata.version.local is not None:
        errors.append(
            _FieldError(
                "version",
                f"The use of local versions in '{metadata.version}' is not allowed",
                help_text=VERSION_SPECIFIERS_HELP,
            )
        )
    if len(str(metadata.version)) > VERSION_MAX_LENGTH:
        errors.append(
            _FieldError("version", f"'version' must be at most {VERSION_MAX_LENGTH} characters")
        )
    if len(str(metadata.requires_python or "")) > REQUIRES_PYTHON_MAX_LENGTH:
        errors.append(
            _FieldError(
                "requires_python",
                f"'requires_python' must be at most {REQUIRES_PYTHON_MAX_LENGTH} characters",
            )
        )
    if metadata.summary and len(metadata.summary) > SUMMARY_MAX_LENGTH:
        errors.append(
            _FieldError(
                "summary", f"'summary' field must be {SUMMARY_MAX_LENGTH} characters or less"
            )
        )
    errors.extend(_classifier_errors(metadata.classifiers or []))
    for field in ("home_page", "download_url"):
        url = getattr(metadata, field)
        if url and not is_valid_url(url):
            errors.append(_FieldError(field, f"'{field}' must be a valid http or https URL"))
    for label, url in (metadata.project_urls or {}).items():
        if not label or len(label) > PROJECT_URL_LABEL_MAX_LENGTH:
            errors.append(
                _FieldError(
                    "project_urls",
                    f"'project_urls' labels must be between 1 and "
                    f"{PROJECT_URL_LABEL_MAX_LENGTH} characters, not {label!r}",
                )
            )
        if not is_valid_url(url):
            errors.append(
                _FieldError("project_urls", f"'project_urls' must contain valid URLs, not {url!r}")
            )
    for field in ("author_email", "maintainer_email"):
        value = getattr(metadata, field)
        if value and not _are_valid_emails(value):
            errors.append(_FieldError(field, f"'{field}' must contain valid email addresses"))
    for field in ("requires_dist", "provides_dist", "obsoletes_dist"):
        for requirement in getattr(metadata, field) or []:
            parsed = requirement if isinstance(requirement, Requirement) else None
            if parsed is None:
                try:
                    parsed = Requirement(str(requirement))
                except InvalidRequirement as exc:
                    errors.append(
                        _FieldError(field, f"'{field}' has an invalid requirement: {exc}")
                    )
                    continue
            if parsed.url:
                errors.append(
                    _FieldError(field, f"Can't have direct dependency: {str(requirement)!r}")
                )
    if metadata.license and metadata.license_expression:
        errors.append(
            _FieldError(
                "license",
                "'license' and 'license_expression' are mutually exclusive: keep only "
                "'license_expression'",
            )
        )
    return errors


def _classifier_errors(classifiers: list[str]) -> list[_FieldError]:
    errors = []
    for classifier in classifiers:
        if classifier in trove_classifiers.deprecated_classifiers:
            replacements = trove_classifiers.deprecated_classifiers[classifier]
            errors.append(
                _FieldError(
                    "classifiers",
                    f"The classifier '{classifier}' has been deprecated, use one of "
                    f"{replacements} instead",
                )
            )
        elif classifier not in trove_classifiers.all_classifiers:
            errors.append(
                _FieldError(
                    "classifiers",
                    f"'{classifier}' is not a valid classifier; pick one from "
                    "https://pypi.org/classifiers/",
                )
            )
    return errors


def is_valid_url(url: str) -> bool:
    """Whether `url` is an absolute http(s) URL with a host (no `javascript:` and the like)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(parts.netloc) and " " not in url


def _are_valid_emails(value: str) -> bool:
    for _name, address in email.utils.getaddresses([value]):
        if not address:
            return False
        try:
            _email_validator(address)
        except ValidationError:
            return False
    return True

"""Which filenames a distribution may have: extensions, PEP 625 sdists, wheels and their tags."""

import re

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from publishing.upload.errors import UploadError

FILENAME_MAX_LENGTH = 255
_EXTENSION_RE = re.compile(r".+?\.(tar\.gz|zip|whl)\Z", re.IGNORECASE)
_EXTENSIONS_BY_FILETYPE = {"sdist": (".tar.gz", ".zip"), "bdist_wheel": (".whl",)}
_EXTENSION_HELP = "See https://peps.python.org/pep-0527/ and https://peps.python.org/pep-0715/"

# PyPI's allowed platform tags (warehouse `_valid_platform_tag`).
_STATIC_PLATFORMS = frozenset(
    {
        "any",
        "win32",
        "win_arm64",
        "win_amd64",
        "win_ia64",
        "manylinux1_x86_64",
        "manylinux1_i686",
        "manylinux2010_x86_64",
        "manylinux2010_i686",
        "manylinux2014_x86_64",
        "manylinux2014_i686",
        "manylinux2014_aarch64",
        "manylinux2014_armv7l",
        "manylinux2014_ppc64",
        "manylinux2014_ppc64le",
        "manylinux2014_s390x",
        "linux_armv6l",
        "linux_armv7l",
    }
)
_MACOS_ARCHES = r"(ppc|ppc64|i386|x86_64|arm64|intel|fat|fat3|fat64|universal|universal2)"
_LINUX_ARCHES = r"(x86_64|i686|aarch64|armv7l|ppc64|ppc64le|s390x|riscv64|loongarch64)"
_PLATFORM_RES = (
    re.compile(rf"^macosx_10_\d+_{_MACOS_ARCHES}\Z"),
    re.compile(rf"^macosx_(1[1-5]|26)_0_{_MACOS_ARCHES}\Z"),
    re.compile(rf"^(many|musl)linux_\d+_\d+_{_LINUX_ARCHES}\Z"),
    re.compile(r"^ios_\d+_\d+_(arm64|x86_64)_(iphoneos|iphonesimulator)\Z"),
    re.compile(r"^android_\d+_(armeabi_v7a|arm64_v8a|x86|x86_64)\Z"),
    re.compile(r"^pyemscripten_\d+_\d+_wasm32\Z"),
)


def is_valid_platform_tag(tag: str) -> bool:
    return tag in _STATIC_PLATFORMS or any(pattern.match(tag) for pattern in _PLATFORM_RES)


def check_filename_shape(filename: str, *, filetype: str) -> None:
    """Refuse control characters, path separators and extensions that do not fit the file type."""
    if any(ord(char) < 32 or ord(char) == 127 for char in filename):
        raise UploadError(
            "Cannot upload a file with non-printable characters (ordinals 0-31) or the DEL "
            "character (ordinal 127) in the name."
        )
    if "/" in filename or "\\" in filename:
        raise UploadError("Cannot upload a file with '/' or '\\' in the name.")
    if len(filename) > FILENAME_MAX_LENGTH:
        raise UploadError(
            f"Filename is too long: use at most {FILENAME_MAX_LENGTH} characters. Shorten the "
            "project name, version or tags."
        )
    if not _EXTENSION_RE.match(filename):
        raise UploadError(
            "Invalid file extension: Use .tar.gz, .whl or .zip extension. "
            f"{_EXTENSION_HELP} for more information."
        )
    lowered = filename.lower()
    if not lowered.endswith(_EXTENSIONS_BY_FILETYPE[filetype]):
        extension = ".whl" if lowered.endswith(".whl") else "." + lowered.rsplit(".", 1)[-1]
        if lowered.endswith(".tar.gz"):
            extension = ".tar.gz"
        raise UploadError(
            f"Invalid file extension: Extension {extension} is invalid for filetype "
            f"{filetype}. {_EXTENSION_HELP} for more information."
        )


def check_sdist_filename(
    filename: str, *, project_name: str, normalized_name: str, version: Version
) -> None:
    """Require the PEP 625 name `{name_with_underscores}-{version}.tar.gz` for an sdist."""
    try:
        name, file_version = parse_sdist_filename(filename)
    except InvalidSdistFilename:
        raise UploadError(
            f"Invalid source distribution filename: {filename}. Name it "
            f"'{normalized_name.replace('-', '_')}-{version}.tar.gz' (PEP 625)."
        ) from None
    if canonicalize_name(name) != normalized_name:
        raise UploadError(
            f"Start filename for '{project_name}' with '{normalized_name.replace('-', '_')}'."
        )
    if file_version != version:
        raise UploadError(f"Version in filename should be '{version}' not '{file_version}'.")
    expected = f"{normalized_name.replace('-', '_')}-{version}.tar.gz"
    if filename != expected:
        raise UploadError(f"Filename '{filename}' is invalid, should be '{expected}'.")


def check_wheel_filename(filename: str, *, normalized_name: str, version: Version) -> None:
    """Require a valid, normalized wheel name for this project and version, with allowed tags."""
    try:
        name, file_version, _build, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        raise UploadError(f"{exc}. Name the wheel as PEP 427 describes.") from None
    for tag in tags:
        if not is_valid_platform_tag(tag.platform):
            raise UploadError(
                f"Binary wheel '{filename}' has an unsupported platform tag '{tag.platform}'."
            )
    expected_name = normalized_name.replace("-", "_")
    literal_name = filename.partition("-")[0]
    if name != normalized_name or literal_name != expected_name:
        raise UploadError(
            f"Filename '{filename}' should contain the normalized project name "
            f"'{expected_name}', not '{literal_name}'."
        )
    if file_version != version:
        raise UploadError(f"Version in filename should be '{version}' not '{file_version}'.")


def wheel_dist_info_dir(filename: str) -> str:
    """The `.dist-info` directory a wheel with this (already checked) filename must contain."""
    name, version = filename.split("-")[:2]
    return f"{name}-{version}.dist-info"

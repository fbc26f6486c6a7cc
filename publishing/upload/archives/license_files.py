"""Metadata 2.4's License-File: every file the metadata names must be in the distribution.

A wheel holds them under `{name}-{version}.dist-info/licenses/`, an sdist under its top-level
directory (the paths are relative to the project's root). PyPI refuses an upload naming a file
that is not there, so a license the metadata promises is never missing from what users install.

Run after the archive's structure was checked (`dist_archives`): the archive is then known to
be sound and within its size bounds, and only its member names are read again.
"""

import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from publishing.upload.archives.distributions import BOMB_MAX_RATIO, BOMB_MIN_SIZE
from publishing.upload.archives.tar_structure import tar_member_names
from publishing.upload.errors import UploadError
from publishing.upload.filenames import wheel_dist_info_dir


def missing_license_file_message(license_file: str, *, filename: str, path: str) -> str:
    return (
        f"License-File {license_file} does not exist in distribution file {filename} at "
        f"{path}. Include the file in the distribution, or remove it from the project's "
        "license-files, then build and upload again."
    )


def check_license_files(
    *, path: str, filename: str, filetype: str, license_files: Iterable[str] | None
) -> None:
    """Refuse the distribution at `path` when a License-File it names is not inside it."""
    wanted = list(license_files or [])
    if not wanted:
        return
    if filetype == "bdist_wheel":
        names = _zip_names(path)
        prefix = f"{wheel_dist_info_dir(filename)}/licenses"
    else:
        names = _zip_names(path) if filename.lower().endswith(".zip") else _tar_names(path)
        # The structure check left exactly one top-level directory.
        prefix = next((PurePosixPath(name).parts[0] for name in names if name), "")
    for license_file in wanted:
        expected = f"{prefix}/{license_file}"
        if expected not in names:
            raise UploadError(
                missing_license_file_message(license_file, filename=filename, path=expected)
            )


def _zip_names(path: str) -> set[str]:
    with zipfile.ZipFile(path) as archive:
        return set(archive.namelist())


def _tar_names(path: str) -> set[str]:
    with Path(path).open("rb") as handle:
        packed = handle.seek(0, 2)
        handle.seek(0)
        limit = max(BOMB_MIN_SIZE, BOMB_MAX_RATIO * max(packed, 1))
        return set(tar_member_names(handle, limit=limit))

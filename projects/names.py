"""The project name policy: which names may be registered, and when two names are one project.

Names follow PyPI: ASCII letters, digits, `.`, `_` and `-`, starting and ending with a letter or
digit. Names that differ only in case or in runs of `-`, `_` and `.` are the same project (PEP
503), so they are compared in normalized form. Python standard-library module names and the names
admins list as prohibited cannot be registered, so nobody can squat `os` or a name an admin took
down.
"""

import re
import sys

from django.db.models import Q
from packaging.utils import canonicalize_name

from projects.exceptions import ProjectNameError
from projects.models import ProhibitedProjectName, Project

# PyPI's PROJECT_NAME_RE. `\Z`, not `$`, so a trailing newline cannot slip through.
PROJECT_NAME_RE = re.compile(
    r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])\Z", re.IGNORECASE | re.ASCII
)
PROJECT_NAME_MAX_LENGTH = 255
HELP_TEXT = (
    "Names use ASCII letters, digits, '.', '_' and '-', and start and end with a letter or digit."
)

# Top-level standard-library modules, normalized, so `Os`, `os` and `o-s`-style variants all clash.
STDLIB_NAMES = frozenset(canonicalize_name(name) for name in sys.stdlib_module_names)


CONFUSABLES = str.maketrans({"l": "1", "i": "1", "o": "0"})


def normalize_project_name(name: str) -> str:
    """Return the PEP 503 form of `name`: lower case, runs of `-_.` replaced by one `-`."""
    return canonicalize_name(name)


def ultranormalize_project_name(name: str) -> str:
    """Return PyPI's confusable form: no `-_.`, lower case, `l`/`i` as `1` and `o` as `0`.

    Two names with the same form are too alike to tell apart at a glance (`pi11ow`, `pillow`).
    """
    return normalize_project_name(name).replace("-", "").translate(CONFUSABLES)


def check_project_name_format(name: str) -> str:
    """Return the normalized name if `name` is well formed, else raise ProjectNameError.

    Only the shape and the standard-library rule: no database access.
    """
    if not isinstance(name, str) or len(name) > PROJECT_NAME_MAX_LENGTH:
        raise ProjectNameError(
            f"The name {str(name)[:60]!r} is invalid. Use at most "
            f"{PROJECT_NAME_MAX_LENGTH} characters.",
            code="invalid",
        )
    if not PROJECT_NAME_RE.match(name):
        raise ProjectNameError(f"The name {name!r} is invalid. {HELP_TEXT}", code="invalid")
    normalized = normalize_project_name(name)
    if normalized in STDLIB_NAMES:
        raise ProjectNameError(
            f"The name {name!r} isn't allowed (conflict with Python Standard Library module "
            "name). Choose a different name for your project.",
            code="stdlib",
        )
    return normalized


def validate_project_name(name: str) -> str:
    """Return the normalized form of `name` if a new project may take it.

    Raise ProjectNameError with a message that says what to do when the name is malformed, a
    standard-library module name, prohibited by an admin, already taken by a project whose name
    differs only in case or punctuation, or too similar to one (`l`/`i`/`1`, `o`/`0`).
    """
    normalized = check_project_name_format(name)
    if ProhibitedProjectName.objects.filter(name=normalized).exists():
        raise ProjectNameError(
            f"The name {name!r} isn't allowed. Choose a different name for your project.",
            code="prohibited",
        )
    # One query for both clashes: with two separate ones, a project created by a concurrent
    # upload between them would read as "too similar" instead of "taken".
    clashing = (
        Project.objects.filter(
            Q(normalized_name=normalized)
            | Q(ultranormalized_name=ultranormalize_project_name(name))
        )
        .values_list("normalized_name", flat=True)
        .order_by()
    )
    clashing_names = set(clashing)
    if normalized in clashing_names:
        raise conflict_error(name)
    if clashing_names:
        raise ProjectNameError(
            f"The name {name!r} is too similar to an existing project. Choose a different name "
            "for your project.",
            code="similar",
        )
    return normalized


def conflict_error(name: str) -> ProjectNameError:
    """The error for a name another project already has (also raised on a lost insert race)."""
    return ProjectNameError(
        f"The name {name!r} conflicts with an existing project. Choose a different name, or "
        "ask the project's owners to invite you if it is yours.",
        code="conflict",
    )

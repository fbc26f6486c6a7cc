"""Version order, and which release counts as a project's latest, as PyPI decides it.

Order is PEP 440's, not upload time: a 1.0.1 bugfix uploaded after 2.0 is not the latest.
"""

from collections.abc import Iterable

from packaging.version import InvalidVersion, Version

from projects.models import Release

# Sorts below every valid version; uploads validate versions, so only rows made by other means
# (an admin, an import) can fall back to it.
_UNPARSABLE = Version("0.dev0")


def parse_version(version: str) -> Version | None:
    """`version` as PEP 440 reads it, or None when it is not a valid version."""
    try:
        return Version(version)
    except InvalidVersion:
        return None


def version_sort_key(version: str) -> tuple[bool, Version, str]:
    """A key sorting version strings by PEP 440 (strings that are not versions first)."""
    parsed = parse_version(version)
    return (parsed is not None, parsed or _UNPARSABLE, version)


def is_prerelease(version: str) -> bool:
    parsed = parse_version(version)
    return parsed is not None and parsed.is_prerelease


def latest_release(releases: Iterable[Release]) -> Release | None:
    """The release a project's JSON API `info` describes (lifecycle.md §5, PyPI's rule).

    The newest release that is neither yanked nor a pre-release; failing that, the newest that
    is not yanked (a pre-release); a yanked release only when every release is yanked. Pass only
    offered releases: a quarantined one is never the latest.
    """
    newest_first = sorted(releases, key=lambda r: version_sort_key(r.version), reverse=True)
    preferences = (
        lambda release: not release.yanked and not is_prerelease(release.version),
        lambda release: not release.yanked,
        lambda release: True,
    )
    for acceptable in preferences:
        for release in newest_first:
            if acceptable(release):
                return release
    return None

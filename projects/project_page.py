"""What the public project page shows of a release: which release, and its metadata made safe
to display (links only to http and https, classifiers grouped, the description rendered)."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.utils.safestring import SafeString
from packaging.version import InvalidVersion, Version

from projects.descriptions import description_html
from projects.models import Release

LINK_SCHEMES = frozenset({"http", "https"})


def _sort_key(release: Release) -> tuple[int, Version | str]:
    try:
        return (1, Version(release.version))
    except InvalidVersion:
        return (0, release.version)


def sorted_releases(releases: Iterable[Release]) -> list[Release]:
    """Releases newest version first (PEP 440 order; a version it cannot parse sorts last)."""
    return sorted(releases, key=_sort_key, reverse=True)


def current_release(releases: Sequence[Release]) -> Release | None:
    """The release the page shows by default, from `releases` sorted by `sorted_releases`.

    As PyPI: the newest final release that is not yanked, else the newest release not yanked,
    else the newest. A quarantined release is never the default.
    """
    candidates = [release for release in releases if not release.is_quarantined]
    usable = [release for release in candidates if not release.yanked]
    for release in usable:
        version = _sort_key(release)[1]
        if isinstance(version, Version) and not version.is_prerelease:
            return release
    if usable:
        return usable[0]
    return candidates[0] if candidates else None


def is_link(url: str) -> bool:
    """Whether `url` may be a link on the page: absolute http(s) with a host (never
    `javascript:`, `data:` or a relative path)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in LINK_SCHEMES and bool(parts.netloc)


@dataclass(frozen=True)
class ProjectLink:
    label: str
    url: str


@dataclass(frozen=True)
class ClassifierGroup:
    name: str
    values: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReleaseDetails:
    """A release's metadata as the page shows it."""

    license_expression: str
    license_text: str
    links: list[ProjectLink]
    classifier_groups: list[ClassifierGroup]
    author: str
    maintainer: str
    keywords: list[str]
    description: SafeString


def _links(metadata: dict[str, Any]) -> list[ProjectLink]:
    candidates = [
        ("Homepage", metadata.get("home_page", "")),
        ("Download", metadata.get("download_url", "")),
    ]
    project_urls = metadata.get("project_urls") or {}
    candidates += list(project_urls.items()) if isinstance(project_urls, dict) else []
    links = []
    seen = set()
    for label, url in candidates:
        if isinstance(url, str) and is_link(url) and url not in seen:
            seen.add(url)
            links.append(ProjectLink(label=str(label), url=url.strip()))
    return links


def _classifier_groups(classifiers: list[str]) -> list[ClassifierGroup]:
    groups: dict[str, ClassifierGroup] = {}
    for classifier in sorted(classifiers):
        name, _separator, rest = classifier.partition(" :: ")
        groups.setdefault(name, ClassifierGroup(name=name)).values.append(rest or name)
    return list(groups.values())


def release_details(metadata: dict[str, Any]) -> ReleaseDetails:
    """The displayable parts of a release's metadata (`release_metadata`)."""
    license_text = str(metadata.get("license", ""))
    return ReleaseDetails(
        license_expression=str(metadata.get("license_expression", "")),
        # The legacy License field often holds a whole license text: its first line names it.
        license_text=license_text.strip().splitlines()[0] if license_text.strip() else "",
        links=_links(metadata),
        classifier_groups=_classifier_groups(list(metadata.get("classifiers") or [])),
        author=str(metadata.get("author", "") or metadata.get("author_email", "")),
        maintainer=str(metadata.get("maintainer", "") or metadata.get("maintainer_email", "")),
        keywords=[str(word) for word in metadata.get("keywords") or []],
        description=description_html(
            str(metadata.get("description", "")),
            str(metadata.get("description_content_type", "")),
        ),
    )

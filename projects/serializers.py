"""The JSON API's documents (`/pypi/<name>/json`, `/pypi/<name>/<version>/json`) in PyPI's shape.

Output only: each key PyPI sends, with its type, so release scripts, dependency updaters and
audit tools written for PyPI read this index unchanged (lifecycle.md §5). Metadata comes from
the release's first upload (`Release.metadata`, the core-metadata fields as uploaded); a field
the upload did not send is null, as on PyPI. Deprecated keys PyPI still sends are kept with
PyPI's constant values (`downloads` -1, `has_sig` false, `bugtrack_url` null).
"""

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from projects.models import Project, Release, Role

# PyPI stopped counting downloads per release; the keys stay, with -1.
NO_DOWNLOAD_COUNTS = {"last_day": -1, "last_week": -1, "last_month": -1}


def project_url(project: Project) -> str:
    return settings.SITE_URL + reverse("projects:detail", kwargs={"name": project.normalized_name})


def _utc(moment: datetime.datetime) -> datetime.datetime:
    return moment.astimezone(datetime.UTC)


def _optional_text(metadata_key: str) -> serializers.CharField:
    """A core-metadata string: null when the upload did not send it."""
    return serializers.CharField(source=f"metadata.{metadata_key}", allow_null=True)


def _optional_list(metadata_key: str) -> serializers.ListField:
    """A multiple-use core-metadata field: a list, or null when the upload sent none."""
    return serializers.ListField(
        child=serializers.CharField(), source=f"metadata.{metadata_key}", allow_null=True
    )


class DigestsSerializer(serializers.Serializer):
    md5 = serializers.CharField(source="md5_digest")
    sha256 = serializers.CharField(source="sha256_digest")
    blake2b_256 = serializers.CharField(source="blake2_256_digest")


class FileSerializer(serializers.Serializer):
    """One file in `urls` or `releases`; reads a row of `selectors.files_for_project`."""

    comment_text = serializers.SerializerMethodField()
    digests = DigestsSerializer(source="*")
    downloads = serializers.SerializerMethodField()
    filename = serializers.CharField()
    has_sig = serializers.SerializerMethodField()
    md5_digest = serializers.CharField()
    packagetype = serializers.CharField()
    python_version = serializers.CharField()
    requires_python = serializers.SerializerMethodField()
    size = serializers.IntegerField()
    upload_time = serializers.SerializerMethodField()
    upload_time_iso_8601 = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    yanked = serializers.BooleanField(source="release__yanked")
    yanked_reason = serializers.SerializerMethodField()

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # PEP 714's name, with a hyphen no attribute can carry; false or the metadata's sha256.
        fields["core-metadata"] = serializers.SerializerMethodField(method_name="get_core_metadata")
        return fields

    def get_comment_text(self, file: dict[str, Any]) -> str:
        return ""

    def get_core_metadata(self, file: dict[str, Any]) -> dict[str, str] | bool:
        digest = file["metadata_sha256_digest"]
        return {"sha256": digest} if digest else False

    def get_downloads(self, file: dict[str, Any]) -> int:
        return -1

    def get_has_sig(self, file: dict[str, Any]) -> bool:
        return False

    def get_requires_python(self, file: dict[str, Any]) -> str | None:
        return file["effective_requires_python"] or None

    def get_upload_time(self, file: dict[str, Any]) -> str:
        return _utc(file["uploaded_at"]).strftime("%Y-%m-%dT%H:%M:%S")

    def get_upload_time_iso_8601(self, file: dict[str, Any]) -> str:
        return _utc(file["uploaded_at"]).isoformat().replace("+00:00", "Z")

    def get_url(self, file: dict[str, Any]) -> str:
        return settings.SITE_URL + reverse("projects:file", kwargs={"path": file["path"]})

    def get_yanked_reason(self, file: dict[str, Any]) -> str | None:
        return file["release__yanked_reason"] or None


class InfoSerializer(serializers.Serializer):
    """`info`: one release's metadata, with the project's name and links."""

    author = _optional_text("author")
    author_email = _optional_text("author_email")
    bugtrack_url = serializers.SerializerMethodField()
    classifiers = serializers.ListField(
        child=serializers.CharField(), source="metadata.classifiers", default=list
    )
    description = _optional_text("description")
    description_content_type = _optional_text("description_content_type")
    docs_url = serializers.SerializerMethodField()
    download_url = _optional_text("download_url")
    downloads = serializers.SerializerMethodField()
    dynamic = _optional_list("dynamic")
    home_page = _optional_text("home_page")
    keywords = serializers.SerializerMethodField()
    license = _optional_text("license")
    license_expression = _optional_text("license_expression")
    license_files = _optional_list("license_files")
    maintainer = _optional_text("maintainer")
    maintainer_email = _optional_text("maintainer_email")
    name = serializers.CharField(source="project.name")
    package_url = serializers.SerializerMethodField()
    platform = serializers.SerializerMethodField()
    project_url = serializers.SerializerMethodField()
    project_urls = serializers.DictField(
        child=serializers.CharField(), source="metadata.project_urls", allow_null=True
    )
    provides_extra = _optional_list("provides_extra")
    release_url = serializers.SerializerMethodField()
    requires_dist = _optional_list("requires_dist")
    requires_python = serializers.SerializerMethodField()
    summary = serializers.SerializerMethodField()
    version = serializers.CharField()
    yanked = serializers.BooleanField()
    yanked_reason = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_bugtrack_url(self, release: Release) -> None:
        return None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_docs_url(self, release: Release) -> None:
        return None

    def get_downloads(self, release: Release) -> dict[str, int]:
        return NO_DOWNLOAD_COUNTS

    def get_keywords(self, release: Release) -> str | None:
        # Uploads split the comma-separated field into words; PyPI sends it as one string.
        words = release.metadata.get("keywords")
        return ",".join(words) if words else None

    def get_package_url(self, release: Release) -> str:
        return project_url(release.project)

    def get_platform(self, release: Release) -> str | None:
        platforms = release.metadata.get("platforms")
        return ", ".join(platforms) if platforms else None

    def get_project_url(self, release: Release) -> str:
        return project_url(release.project)

    def get_release_url(self, release: Release) -> str:
        # The project page lists every release; there is no page per release.
        return f"{project_url(release.project)}#release-{release.version}"

    def get_requires_python(self, release: Release) -> str | None:
        return release.requires_python or None

    def get_summary(self, release: Release) -> str | None:
        # The column the upload fills from the metadata (also set on releases made otherwise).
        return release.summary or None

    def get_yanked_reason(self, release: Release) -> str | None:
        return release.yanked_reason or None


class RoleSerializer(serializers.Serializer):
    role = serializers.CharField()
    user = serializers.CharField(source="user.username")


class OwnershipSerializer(serializers.Serializer):
    roles = RoleSerializer(many=True)
    organization = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_organization(self, document: "ReleaseDocument") -> None:
        return None  # this index has no organizations


@dataclass
class ReleaseDocument:
    """What a JSON API answer is made of: the project, the release `info` describes, files."""

    project: Project
    release: Release
    urls: list[dict[str, Any]]
    roles: list[Role]
    releases: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    vulnerabilities: list[dict[str, Any]] = field(default_factory=list)


class ReleaseJSONSerializer(serializers.Serializer):
    """`/pypi/<name>/<version>/json`: PyPI removed `releases` from this route."""

    info = InfoSerializer(source="release")
    last_serial = serializers.IntegerField(source="project.serial")
    urls = FileSerializer(many=True)
    # No vulnerability database is consulted; the key is there for tools that read it.
    vulnerabilities = serializers.ListField(child=serializers.DictField())
    ownership = OwnershipSerializer(source="*")


class ProjectJSONSerializer(ReleaseJSONSerializer):
    """`/pypi/<name>/json`: the latest release's `info` and `urls`, and every offered release's
    files under `releases` (deprecated on PyPI, still read by twine's --skip-existing)."""

    releases = serializers.DictField(child=FileSerializer(many=True))

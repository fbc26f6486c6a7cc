"""The JSON API (`/pypi/<name>/json`, `/pypi/<name>/<version>/json`) in PyPI's shape, with the
lifecycle in it: yanked releases marked, quarantined ones absent, the latest chosen as PyPI does.
"""

import datetime
import json

import pytest
from django.core.cache import cache
from django.db import transaction
from packaging.utils import canonicalize_version

from projects.documents import recent_documents
from projects.models import Project, Role
from projects.services.projects import bump_serial
from projects.services.roles import accept_invitation, change_role, invite_collaborator, remove_role
from tests.factories import FileFactory, ProjectFactory, ReleaseFactory, RoleFactory, UserFactory

PROJECT_URL = "/pypi/spam-eggs/json"
# The keys of lifecycle.md §5, as PyPI sends them.
INFO_KEYS = {
    "author",
    "author_email",
    "bugtrack_url",
    "classifiers",
    "description",
    "description_content_type",
    "docs_url",
    "download_url",
    "downloads",
    "dynamic",
    "home_page",
    "keywords",
    "license",
    "license_expression",
    "license_files",
    "maintainer",
    "maintainer_email",
    "name",
    "package_url",
    "platform",
    "project_url",
    "project_urls",
    "provides_extra",
    "release_url",
    "requires_dist",
    "requires_python",
    "summary",
    "version",
    "yanked",
    "yanked_reason",
}
FILE_KEYS = {
    "comment_text",
    "core-metadata",
    "digests",
    "downloads",
    "filename",
    "has_sig",
    "md5_digest",
    "packagetype",
    "python_version",
    "requires_python",
    "size",
    "upload_time",
    "upload_time_iso_8601",
    "url",
    "yanked",
    "yanked_reason",
}
# The metadata fields an upload of twine or uv sends, as the upload stores them.
UPLOADED_METADATA = {
    "metadata_version": "2.4",
    "name": "Spam_Eggs",
    "version": "1.0",
    "summary": "Demo",
    "description": "# Spam\n",
    "description_content_type": "text/markdown",
    "author": "Alice",
    "author_email": "alice@example.org",
    "license_expression": "MIT",
    "license_files": ["LICENSE"],
    "requires_python": ">=3.10",
    "classifiers": ["Programming Language :: Python :: 3"],
    "requires_dist": ["requests>=2", "rich; extra == 'cli'"],
    "provides_extra": ["cli"],
    "keywords": ["spam", "eggs"],
    "project_urls": {"Homepage": "https://example.org", "Issues": "https://example.org/i"},
}


def _release(project, version, **fields):
    """A release as uploads make it: its canonical version is packaging's."""
    return ReleaseFactory(
        project=project, version=version, canonical_version=canonicalize_version(version), **fields
    )


def _change(row, **fields):
    """Change a project or release the way the lifecycle services do: serial bumped with it
    (and only the changed columns saved: a stale instance must not write its serial back)."""
    with transaction.atomic():
        for name, value in fields.items():
            setattr(row, name, value)
        row.save(update_fields=list(fields))
        bump_serial(project=row if isinstance(row, Project) else row.project)


@pytest.fixture
def project(db):
    project = ProjectFactory(name="Spam_Eggs", normalized_name="spam-eggs")
    RoleFactory(project=project, user=UserFactory(username="zoe"), role=Role.Kind.MAINTAINER)
    RoleFactory(project=project, user=UserFactory(username="alice"), role=Role.Kind.OWNER)
    return project


@pytest.fixture
def releases(project):
    """0.9 (an sdist) and 1.0 (a wheel with metadata and an sdist), as in the reference example."""
    old = _release(project, "0.9", requires_python=">=3.9")
    new = _release(
        project, "1.0", requires_python=">=3.10", summary="Demo", metadata=UPLOADED_METADATA
    )
    FileFactory(
        release=old,
        filename="spam_eggs-0.9.tar.gz",
        packagetype="sdist",
        python_version="source",
        size=18244,
    )
    FileFactory(
        release=new,
        filename="spam_eggs-1.0-py3-none-any.whl",
        size=9120,
        metadata_sha256_digest="cd" * 32,
    )
    FileFactory(
        release=new, filename="spam_eggs-1.0.tar.gz", packagetype="sdist", python_version="source"
    )
    return old, new


def _get(client, path=PROJECT_URL, **headers):
    response = client.get(path, **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


def test_project_document_has_pypis_shape(client, releases):
    body = _get(client)
    assert set(body) == {"info", "last_serial", "releases", "urls", "vulnerabilities", "ownership"}
    assert set(body["info"]) == INFO_KEYS
    assert body["vulnerabilities"] == []
    assert body["ownership"] == {
        "roles": [{"role": "Owner", "user": "alice"}, {"role": "Maintainer", "user": "zoe"}],
        "organization": None,
    }
    assert list(body["releases"]) == ["0.9", "1.0"]
    for file in [*body["urls"], *(f for files in body["releases"].values() for f in files)]:
        assert set(file) == FILE_KEYS


def test_info_carries_the_uploaded_metadata_and_links(client, releases, settings):
    info = _get(client)["info"]
    assert info["name"] == "Spam_Eggs"
    assert info["version"] == "1.0"
    assert info["summary"] == "Demo"
    assert info["description"] == "# Spam\n"
    assert info["description_content_type"] == "text/markdown"
    assert info["author"] == "Alice"
    assert info["license_expression"] == "MIT"
    assert info["license_files"] == ["LICENSE"]
    assert info["requires_python"] == ">=3.10"
    assert info["requires_dist"] == ["requests>=2", "rich; extra == 'cli'"]
    assert info["provides_extra"] == ["cli"]
    assert info["classifiers"] == ["Programming Language :: Python :: 3"]
    assert info["keywords"] == "spam,eggs"
    assert info["project_urls"] == {
        "Homepage": "https://example.org",
        "Issues": "https://example.org/i",
    }
    assert info["package_url"] == info["project_url"] == f"{settings.SITE_URL}/project/spam-eggs/"
    assert info["release_url"].startswith(info["package_url"])
    assert info["downloads"] == {"last_day": -1, "last_week": -1, "last_month": -1}
    assert info["bugtrack_url"] is None
    assert info["yanked"] is False
    assert info["yanked_reason"] is None


def test_fields_the_upload_did_not_send_are_null_as_on_pypi(client, project):
    _release(project, "1.0", metadata={"metadata_version": "2.1", "name": "spam-eggs"})
    info = _get(client)["info"]
    for key in ("author", "description", "home_page", "keywords", "license", "project_urls"):
        assert info[key] is None, key
    assert info["requires_dist"] is None
    assert info["classifiers"] == []


def test_files_carry_digests_times_and_absolute_urls(client, releases, settings):
    body = _get(client)
    wheel, sdist = body["urls"]
    stored = releases[1].files.get(filename="spam_eggs-1.0-py3-none-any.whl")
    assert wheel["filename"] == stored.filename
    assert wheel["digests"] == {
        "md5": stored.md5_digest,
        "sha256": stored.sha256_digest,
        "blake2b_256": stored.blake2_256_digest,
    }
    assert wheel["md5_digest"] == stored.md5_digest
    assert wheel["url"] == f"{settings.SITE_URL}/files/{stored.path}"
    assert wheel["size"] == 9120
    assert wheel["packagetype"] == "bdist_wheel"
    assert wheel["core-metadata"] == {"sha256": "cd" * 32}
    assert sdist["core-metadata"] is False
    assert sdist["python_version"] == "source"
    assert wheel["requires_python"] == ">=3.10"
    uploaded = stored.uploaded_at
    assert wheel["upload_time"] == uploaded.strftime("%Y-%m-%dT%H:%M:%S")
    assert wheel["upload_time_iso_8601"] == uploaded.isoformat().replace("+00:00", "Z")
    assert (wheel["has_sig"], wheel["downloads"], wheel["comment_text"]) == (False, -1, "")


def test_release_route_has_no_releases_key_and_matches_the_canonical_version(client, releases):
    body = _get(client, "/pypi/spam-eggs/1.0.0/json")
    assert set(body) == {"info", "last_serial", "urls", "vulnerabilities", "ownership"}
    assert body["info"]["version"] == "1.0"
    assert [file["filename"] for file in body["urls"]] == [
        "spam_eggs-1.0-py3-none-any.whl",
        "spam_eggs-1.0.tar.gz",
    ]
    older = _get(client, "/pypi/spam-eggs/0.9/json")
    assert older["info"]["version"] == "0.9"
    assert older["info"]["author"] is None


@pytest.mark.parametrize(
    "path",
    [
        "/pypi/spam-eggs/json/",
        "/pypi/spam-eggs/1.0/json/",
    ],
)
def test_trailing_slash_is_served_too(client, releases, path):
    assert _get(client, path)["info"]["name"] == "Spam_Eggs"


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/pypi/Spam_Eggs/json", "/pypi/spam-eggs/json"),
        ("/pypi/SPAM.eggs/1.0/json", "/pypi/spam-eggs/1.0/json"),
    ],
)
def test_non_normalized_name_redirects_permanently(client, releases, path, target):
    response = client.get(path)
    assert response.status_code == 301
    assert response["Location"] == target


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        # PEP 440 order, not upload order: a 1.0.1 fix uploaded after 2.0 is not the latest.
        ([("2.0", {}), ("1.0.1", {})], "2.0"),
        # A pre-release is not the latest while a final release exists.
        ([("1.0", {}), ("2.0b1", {})], "1.0"),
        ([("1.0", {}), ("2.0.dev3", {})], "1.0"),
        # A yanked release is not the latest; failing finals, a pre-release is.
        ([("1.0", {}), ("2.0", {"yanked": True})], "1.0"),
        ([("1.0", {"yanked": True}), ("2.0rc1", {})], "2.0rc1"),
        # Only yanked releases: the newest of them.
        ([("1.0", {"yanked": True}), ("2.0", {"yanked": True})], "2.0"),
        # A quarantined release is never the latest, even when all else is yanked.
        ([("1.0", {"yanked": True}), ("2.0", {"is_quarantined": True})], "1.0"),
    ],
)
def test_info_describes_the_release_pypi_would_choose(client, project, versions, expected):
    for version, fields in versions:
        FileFactory(release=_release(project, version, **fields))
    body = _get(client)
    assert body["info"]["version"] == expected
    assert {file["filename"] for file in body["urls"]} == {
        file.filename for file in project.releases.get(version=expected).files.all()
    }


def test_yanked_release_is_listed_and_marked_with_its_reason(client, releases):
    old, _new = releases
    _change(old, yanked=True, yanked_reason="wrong requires-python")
    body = _get(client)
    [sdist] = body["releases"]["0.9"]
    assert (sdist["yanked"], sdist["yanked_reason"]) == (True, "wrong requires-python")
    assert all(file["yanked"] is False for file in body["releases"]["1.0"])
    info = _get(client, "/pypi/spam-eggs/0.9/json")["info"]
    assert (info["yanked"], info["yanked_reason"]) == (True, "wrong requires-python")


def test_release_without_files_is_an_empty_list(client, releases, project):
    _release(project, "0.5")
    assert _get(client)["releases"]["0.5"] == []


def _not_found(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"message": "Not Found"}
    return response


@pytest.mark.parametrize(
    "path",
    [
        "/pypi/no-such-project/json",
        "/pypi/no-such-project/1.0/json",
        "/pypi/spam-eggs/3.0/json",
        "/pypi/spam-eggs/not a version/json",
        "/pypi/spam-eggs/json/json",
    ],
)
def test_what_does_not_exist_is_pypis_404(client, releases, path):
    _not_found(client, path)


def test_project_without_releases_is_404(client, project):
    _not_found(client, PROJECT_URL)


def test_project_whose_every_release_is_quarantined_is_404(client, project):
    FileFactory(release=_release(project, "1.0", is_quarantined=True))
    _not_found(client, PROJECT_URL)
    _not_found(client, "/pypi/spam-eggs/1.0/json")


def test_quarantined_release_is_absent_everywhere(client, releases):
    _old, new = releases
    before = _get(client)
    _change(new, is_quarantined=True, quarantine_reason="malware")
    body = _get(client)
    assert list(body["releases"]) == ["0.9"]
    assert body["info"]["version"] == "0.9"
    assert "spam_eggs-1.0" not in json.dumps(body)
    hidden = _not_found(client, "/pypi/spam-eggs/1.0/json")
    never = _not_found(client, "/pypi/spam-eggs/7.0/json")
    assert hidden.content == never.content
    assert body["last_serial"] > before["last_serial"]


@pytest.mark.parametrize("path", [PROJECT_URL, "/pypi/spam-eggs/0.9/json"])
def test_quarantined_project_is_404_like_a_missing_one(client, project, releases, path):
    _get(client, path)  # a document cached before the quarantine must not be served after it
    etag = client.get(path)["ETag"]
    _change(project, status=Project.Status.QUARANTINED, status_reason="malware")
    _not_found(client, path)
    assert client.get(path, HTTP_IF_NONE_MATCH=etag).status_code == 404


@pytest.mark.parametrize("status", [Project.Status.ARCHIVED, Project.Status.DEPRECATED])
def test_archived_and_deprecated_projects_answer_as_on_pypi(client, project, releases, status):
    _change(project, status=status, status_reason="replaced")
    body = _get(client)
    assert body["info"]["version"] == "1.0"
    assert "replaced" not in json.dumps(body)  # PyPI's JSON API has no status field


def test_headers_are_pypis(client, releases, project):
    response = client.get(PROJECT_URL)
    project.refresh_from_db()
    assert response["X-PyPI-Last-Serial"] == str(project.serial)
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Access-Control-Allow-Methods"] == "GET"
    assert response["Access-Control-Expose-Headers"] == "X-PyPI-Last-Serial"
    assert response["Access-Control-Max-Age"] == "86400"
    assert response["Cache-Control"] == "max-age=0, must-revalidate"
    for other in (
        client.get("/pypi/no-such-project/json"),
        client.get("/pypi/Spam_Eggs/json"),
        client.options(PROJECT_URL),
        client.post(PROJECT_URL),
    ):
        assert other["Access-Control-Allow-Origin"] == "*", other.status_code
        assert other["Access-Control-Allow-Methods"] == "GET"


def test_json_api_is_read_only(client, releases):
    for method in (client.post, client.put, client.delete, client.patch):
        assert method(PROJECT_URL).status_code == 405
    assert client.head(PROJECT_URL).status_code == 200


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "*/*", ""])
def test_any_accept_header_gets_json(client, releases, accept):
    assert _get(client, HTTP_ACCEPT=accept)["info"]["name"] == "Spam_Eggs"


def test_last_serial_grows_with_every_change(client, project, releases):
    old, _new = releases
    serials = [_get(client)["last_serial"]]
    _change(old, yanked=True)
    serials.append(_get(client)["last_serial"])
    _change(old, yanked=False)
    serials.append(_get(client)["last_serial"])
    _change(project, status=Project.Status.ARCHIVED)
    serials.append(_get(client, "/pypi/spam-eggs/1.0/json")["last_serial"])
    assert serials == sorted(set(serials))
    assert _get(client)["releases"]["0.9"][0]["yanked"] is False


@pytest.mark.parametrize("path", [PROJECT_URL, "/pypi/spam-eggs/1.0/json"])
def test_revalidation_is_304_after_one_row_read_even_when_not_cached(
    client, releases, path, django_assert_num_queries
):
    etag = client.get(path)["ETag"]
    cache.clear()
    recent_documents.clear()
    with django_assert_num_queries(1):
        response = client.get(path, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response["ETag"] == etag
    assert response["Access-Control-Allow-Origin"] == "*"


def test_a_change_gives_a_new_etag_and_the_new_document(client, releases):
    old, _new = releases
    etag = client.get(PROJECT_URL)["ETag"]
    _change(old, yanked=True, yanked_reason="broken")
    response = client.get(PROJECT_URL, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert response["ETag"] != etag
    assert json.loads(response.content)["releases"]["0.9"][0]["yanked_reason"] == "broken"


def test_each_route_and_version_has_its_own_etag(client, releases):
    paths = [PROJECT_URL, "/pypi/spam-eggs/1.0/json", "/pypi/spam-eggs/0.9/json"]
    assert len({client.get(path)["ETag"] for path in paths}) == 3
    assert client.get("/pypi/spam-eggs/1/json")["ETag"] == client.get(paths[1])["ETag"]


def _many_files(project, count):
    """`count` files over count / 10 releases, each with metadata as uploads store it."""
    for number in range(count // 10):
        release = _release(project, f"1.{number}", metadata=UPLOADED_METADATA)
        for tag in range(10):
            FileFactory(release=release, filename=f"spam_eggs-1.{number}-py3{tag}-none-any.whl")


@pytest.mark.parametrize(("path", "queries"), [(PROJECT_URL, 5), ("/pypi/spam-eggs/1.7/json", 4)])
def test_query_count_is_fixed_at_a_thousand_files(
    client, project, path, queries, django_assert_max_num_queries
):
    _many_files(project, 1000)
    with django_assert_max_num_queries(queries):
        body = _get(client, path)
    files = body.get("releases", {"1.7": body["urls"]})
    assert sum(len(release_files) for release_files in files.values()) in (10, 1000)
    with django_assert_max_num_queries(1):
        assert json.loads(client.get(path).content) == body


def test_ownership_follows_role_changes_made_through_the_services(client, project, releases):
    alice = project.roles.get(user__username="alice").user
    bob = UserFactory(username="bob")

    def ownership():
        return [(role["role"], role["user"]) for role in _get(client)["ownership"]["roles"]]

    assert ownership() == [("Owner", "alice"), ("Maintainer", "zoe")]
    invitation = invite_collaborator(
        project=project, username="bob", role=Role.Kind.MAINTAINER, actor=alice
    )
    assert ownership() == [("Owner", "alice"), ("Maintainer", "zoe")]  # not a role yet
    role = accept_invitation(invitation=invitation, user=bob)
    assert ownership() == [("Owner", "alice"), ("Maintainer", "bob"), ("Maintainer", "zoe")]
    change_role(role=role, new_role=Role.Kind.OWNER, actor=alice)
    assert ownership() == [("Owner", "alice"), ("Owner", "bob"), ("Maintainer", "zoe")]
    remove_role(role=project.roles.get(user__username="zoe"), actor=alice)
    assert ownership() == [("Owner", "alice"), ("Owner", "bob")]


def test_document_matches_the_reference_example(client, releases):
    """lifecycle.md §5's example (`/pypi/spam-eggs/json`, shortened there), value for value."""
    old, _new = releases
    _change(old, yanked=True, yanked_reason="wrong requires-python")
    old.files.update(
        uploaded_at=datetime.datetime(2025, 2, 3, 10, 20, 30, 456789, tzinfo=datetime.UTC)
    )
    with transaction.atomic():
        bump_serial(project=old.project)
    body = _get(client)
    info = body["info"]
    assert (info["name"], info["version"], info["summary"]) == ("Spam_Eggs", "1.0", "Demo")
    assert (info["requires_python"], info["yanked"], info["yanked_reason"]) == (
        ">=3.10",
        False,
        None,
    )
    assert body["last_serial"] == 2
    [sdist] = body["releases"]["0.9"]
    assert sdist["filename"] == "spam_eggs-0.9.tar.gz"
    assert (sdist["packagetype"], sdist["python_version"], sdist["size"]) == (
        "sdist",
        "source",
        18244,
    )
    assert set(sdist["digests"]) == {"md5", "sha256", "blake2b_256"}
    assert sdist["upload_time"] == "2025-02-03T10:20:30"
    assert sdist["upload_time_iso_8601"] == "2025-02-03T10:20:30.456789Z"
    assert (sdist["yanked"], sdist["yanked_reason"]) == (True, "wrong requires-python")
    assert body["urls"] == body["releases"]["1.0"]
    assert body["vulnerabilities"] == []
    assert body["ownership"]["roles"][0] == {"role": "Owner", "user": "alice"}
    assert body["ownership"]["organization"] is None

"""What the simple index and file downloads show of the lifecycle: PEP 592 yank marks, PEP 792
project status in both formats, and quarantine (nothing offered, the same 404 as a missing path).
"""

import json

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from projects.models import Project
from projects.services.projects import bump_serial
from tests.factories import FileFactory, ProjectFactory, ReleaseFactory

pytestmark = pytest.mark.usefixtures("memory_storage")

JSON_V1 = "application/vnd.pypi.simple.v1+json"


@pytest.fixture
def project(db):
    return ProjectFactory(name="spam-eggs", normalized_name="spam-eggs")


@pytest.fixture
def releases(project):
    old = ReleaseFactory(project=project, version="0.9")
    new = ReleaseFactory(project=project, version="1.0")
    return (
        FileFactory(release=old, filename="spam_eggs-0.9.tar.gz"),
        FileFactory(release=new, filename="spam_eggs-1.0-py3-none-any.whl"),
    )


def _json(client, path="/simple/spam-eggs/"):
    response = client.get(path, HTTP_ACCEPT=JSON_V1)
    assert response.status_code == 200
    return json.loads(response.content)


def _html(client, path="/simple/spam-eggs/"):
    response = client.get(path, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    return response.content.decode()


def _change(row, **fields):
    """Write lifecycle fields of a project or release as the lifecycle services do: with the
    project's serial bumped."""
    for name, value in fields.items():
        setattr(row, name, value)
    row.save()
    bump_serial(project=row if isinstance(row, Project) else row.project)


def test_active_project_says_so_in_both_formats(client, releases):
    body = _json(client)
    assert body["meta"]["api-version"] == "1.4"
    assert body["project-status"] == {"status": "active"}
    assert '<meta name="pypi:project-status" content="active">' in _html(client)
    assert "project-status-reason" not in _html(client)


@pytest.mark.parametrize("status", ["archived", "deprecated"])
def test_archived_and_deprecated_projects_keep_offering_files_with_the_reason(
    client, project, releases, status
):
    _json(client)  # a page cached before the change must not be served after it
    _change(project, status=status, status_reason='replaced by "spam-eggs-ng" <soon>')
    body = _json(client)
    assert body["project-status"] == {
        "status": status,
        "reason": 'replaced by "spam-eggs-ng" <soon>',
    }
    assert len(body["files"]) == 2
    html = _html(client)
    assert f'<meta name="pypi:project-status" content="{status}">' in html
    assert (
        '<meta name="pypi:project-status-reason" '
        'content="replaced by &quot;spam-eggs-ng&quot; &lt;soon&gt;">'
    ) in html


def test_yanked_release_is_marked_with_its_reason_and_stays_listed(client, releases):
    old_file, _new_file = releases
    _change(old_file.release, yanked=True, yanked_reason='broke "x" & <y>')
    files = {entry["filename"]: entry for entry in _json(client)["files"]}
    assert files["spam_eggs-0.9.tar.gz"]["yanked"] == 'broke "x" & <y>'
    assert files["spam_eggs-1.0-py3-none-any.whl"]["yanked"] is False
    assert _json(client)["versions"] == ["0.9", "1.0"]
    html = _html(client)
    assert 'data-yanked="broke &quot;x&quot; &amp; &lt;y&gt;">spam_eggs-0.9.tar.gz' in html
    assert "data-yanked" not in html.split("spam_eggs-0.9.tar.gz</a>")[1]


def test_yank_without_reason_is_true_in_json_and_empty_in_html(client, releases):
    # pip reads JSON "" and a bare HTML attribute as not yanked: send true and data-yanked="".
    old_file, _new_file = releases
    _change(old_file.release, yanked=True, yanked_reason="")
    files = {entry["filename"]: entry for entry in _json(client)["files"]}
    assert files["spam_eggs-0.9.tar.gz"]["yanked"] is True
    assert 'data-yanked="">spam_eggs-0.9.tar.gz' in _html(client)


def test_yanked_file_stays_downloadable(client, releases):
    old_file, _new_file = releases
    _change(old_file.release, yanked=True)
    default_storage.save(old_file.path, ContentFile(b"sdist"))
    assert client.get(f"/files/{old_file.path}").status_code == 200


def test_quarantined_release_leaves_the_index_and_downloads(client, releases):
    old_file, new_file = releases
    for file in releases:
        default_storage.save(file.path, ContentFile(b"bytes"))
    new_file.metadata_sha256_digest = "ab" * 32
    new_file.save()
    default_storage.save(f"{new_file.path}.metadata", ContentFile(b"Metadata-Version: 2.1\n"))
    _json(client)
    _change(new_file.release, is_quarantined=True, quarantine_reason="malware")
    body = _json(client)
    assert [entry["filename"] for entry in body["files"]] == ["spam_eggs-0.9.tar.gz"]
    assert body["versions"] == ["0.9"]
    assert body["project-status"] == {"status": "active"}
    assert "spam_eggs-1.0" not in _html(client)
    missing = client.get(f"/files/{new_file.path}")
    assert missing.status_code == 404
    never_existed = client.get("/files/aa/bb/never-uploaded-1.0.tar.gz")
    assert missing.content == never_existed.content
    assert client.get(f"/files/{new_file.path}.metadata").status_code == 404
    assert client.get(f"/files/{old_file.path}").status_code == 200


def test_quarantined_project_offers_nothing_and_leaves_the_root(client, project, releases):
    for file in releases:
        default_storage.save(file.path, ContentFile(b"bytes"))
    ProjectFactory(name="other", normalized_name="other")
    _change(project, status=Project.Status.QUARANTINED, status_reason="owners' old words")
    body = _json(client)
    # The administrators' reason is for the owners; installers learn only the status.
    assert body["project-status"] == {"status": "quarantined"}
    assert "owners' old words" not in _html(client)
    assert body["files"] == []
    assert body["versions"] == []
    assert "spam_eggs" not in _html(client)
    root = _json(client, "/simple/")
    assert [entry["name"] for entry in root["projects"]] == ["other"]
    assert "spam-eggs" not in _html(client, "/simple/")
    for file in releases:
        assert client.get(f"/files/{file.path}").status_code == 404

import hashlib
import json

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from projects.models import DownloadCount, File
from projects.negotiation import choose_simple_content_type
from tests.factories import FileFactory, ProjectFactory, ReleaseFactory

pytestmark = pytest.mark.usefixtures("memory_storage")

JSON_V1 = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
PIP_ACCEPT = f"{JSON_V1}, {HTML_V1}; q=0.1, text/html; q=0.01"


@pytest.fixture
def project(db):
    return ProjectFactory(name="Sample_Project", normalized_name="sample-project")


@pytest.fixture
def wheel(project):
    release = ReleaseFactory(project=project, version="1.0", requires_python=">=3.9")
    return FileFactory(
        release=release,
        filename="sample_project-1.0-py3-none-any.whl",
        requires_python=">=3.9,<4",
        metadata_sha256_digest="ab" * 32,
    )


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (PIP_ACCEPT, JSON_V1),
        (None, "text/html"),
        ("", "text/html"),
        ("*/*", "text/html"),
        ("text/html", "text/html"),
        (HTML_V1, HTML_V1),
        (f"{JSON_V1}; q=0.2, {HTML_V1}; q=0.9", HTML_V1),
        (f"{JSON_V1}; q=0, text/html", "text/html"),
        ("application/vnd.pypi.simple.latest+json", JSON_V1),
        ("application/*", JSON_V1),
        ("application/json", None),
        ("text/plain, image/png", None),
        (f"{JSON_V1};q=0", None),
    ],
)
def test_content_negotiation_honours_q_values(accept, expected):
    assert choose_simple_content_type(accept) == expected


def test_pip_gets_json_with_sha256_requires_python_and_metadata(client, wheel):
    response = client.get("/simple/sample-project/", HTTP_ACCEPT=PIP_ACCEPT)
    assert response.status_code == 200
    assert response["Content-Type"] == JSON_V1
    assert "Accept" in response["Vary"]
    body = json.loads(response.content)
    assert body["meta"] == {"api-version": "1.4", "_last-serial": 0}
    assert body["name"] == "sample-project"
    assert body["versions"] == ["1.0"]
    [entry] = body["files"]
    assert entry["filename"] == wheel.filename
    assert entry["url"] == f"/files/{wheel.path}"
    assert entry["hashes"] == {"sha256": wheel.sha256_digest}
    assert entry["requires-python"] == ">=3.9,<4"
    assert entry["core-metadata"] == {"sha256": "ab" * 32}
    assert entry["dist-info-metadata"] == {"sha256": "ab" * 32}
    assert entry["size"] == wheel.size
    assert entry["yanked"] is False


def test_html_page_has_hash_fragment_escaped_requires_python_and_metadata(client, wheel):
    response = client.get("/simple/sample-project/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode()
    assert f'href="/files/{wheel.path}#sha256={wheel.sha256_digest}"' in html
    assert 'data-requires-python="&gt;=3.9,&lt;4"' in html
    assert f'data-core-metadata="sha256={"ab" * 32}"' in html
    assert f'data-dist-info-metadata="sha256={"ab" * 32}"' in html
    assert '<meta name="pypi:repository-version" content="1.4">' in html


def test_versioned_html_type_is_echoed(client, wheel):
    response = client.get("/simple/sample-project/", HTTP_ACCEPT=HTML_V1)
    assert response["Content-Type"] == HTML_V1
    assert wheel.filename in response.content.decode()


def test_file_without_metadata_advertises_none(client, project):
    FileFactory(release=ReleaseFactory(project=project), metadata_sha256_digest="")
    html = client.get("/simple/sample-project/").content.decode()
    assert "data-core-metadata" not in html
    assert "data-requires-python" not in html
    entry = client.get("/simple/sample-project/", HTTP_ACCEPT=JSON_V1).json()["files"][0]
    assert entry["core-metadata"] is False
    assert entry["requires-python"] is None


def test_release_requires_python_is_used_when_file_has_none(client, project):
    release = ReleaseFactory(project=project, requires_python=">=3.8")
    FileFactory(release=release, requires_python="")
    entry = client.get("/simple/sample-project/", HTTP_ACCEPT=JSON_V1).json()["files"][0]
    assert entry["requires-python"] == ">=3.8"


def test_requires_python_with_quotes_is_escaped_in_html(client, project):
    FileFactory(release=ReleaseFactory(project=project), requires_python='>=3"><script>')
    html = client.get("/simple/sample-project/").content.decode()
    assert "<script>" not in html
    assert 'data-requires-python="&gt;=3&quot;&gt;&lt;script&gt;"' in html


@pytest.mark.parametrize("spelling", ["Sample_Project", "sample.project", "SAMPLE-PROJECT"])
def test_non_normalized_name_redirects_permanently(client, project, spelling):
    response = client.get(f"/simple/{spelling}/")
    assert response.status_code == 301
    assert response["Location"] == "/simple/sample-project/"


def test_unknown_project_is_404(client, db):
    assert client.get("/simple/nothing-here/").status_code == 404


def test_nothing_acceptable_is_406(client, project):
    response = client.get("/simple/sample-project/", HTTP_ACCEPT="application/json")
    assert response.status_code == 406
    assert b"application/vnd.pypi.simple.v1+json" in response.content
    assert client.get("/simple/", HTTP_ACCEPT="image/png").status_code == 406


def test_conditional_get_returns_304(client, wheel):
    first = client.get("/simple/sample-project/", HTTP_ACCEPT=JSON_V1)
    again = client.get(
        "/simple/sample-project/", HTTP_ACCEPT=JSON_V1, HTTP_IF_NONE_MATCH=first["ETag"]
    )
    assert again.status_code == 304
    assert first["Cache-Control"] == "max-age=0, must-revalidate"


def test_root_lists_projects_in_html_and_json(client, project):
    ProjectFactory(name="Other.Thing", normalized_name="other-thing")
    html = client.get("/simple/").content.decode()
    assert '<a href="/simple/sample-project/">Sample_Project</a>' in html
    assert '<a href="/simple/other-thing/">Other.Thing</a>' in html
    body = client.get("/simple/", HTTP_ACCEPT=JSON_V1).json()
    assert body["meta"] == {"api-version": "1.4"}
    assert body["projects"] == [{"name": "Other.Thing"}, {"name": "Sample_Project"}]


def _many_files(project, count):
    release = ReleaseFactory(project=project)
    File.objects.bulk_create(
        File(
            release=release,
            filename=f"sample_project-{n}.tar.gz",
            packagetype=File.PackageType.SDIST,
            size=10,
            md5_digest=f"{n:032x}",
            sha256_digest=f"{n:064x}",
            blake2_256_digest=f"{n + 1:064x}",
            path=f"p/{n}/sample_project-{n}.tar.gz",
        )
        for n in range(count)
    )


@pytest.mark.parametrize("count", [1, 2000])
@pytest.mark.parametrize("accept", [PIP_ACCEPT, "text/html"])
def test_simple_page_query_count_does_not_grow_with_files(
    client, project, count, accept, django_assert_max_num_queries
):
    _many_files(project, count)
    with django_assert_max_num_queries(3):
        response = client.get("/simple/sample-project/", HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert response.content.count(b"sample_project-") >= count


def test_simple_root_query_count_is_fixed(client, project, django_assert_max_num_queries):
    for n in range(30):
        ProjectFactory(name=f"extra-{n}", normalized_name=f"extra-{n}")
    with django_assert_max_num_queries(1):
        client.get("/simple/")


def test_file_download_serves_bytes_and_counts(client, wheel):
    content = b"wheel bytes"
    default_storage.save(wheel.path, ContentFile(content))
    response = client.get(f"/files/{wheel.path}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == f'attachment; filename="{wheel.filename}"'
    assert response["ETag"] == f'"{wheel.sha256_digest}"'
    assert "immutable" in response["Cache-Control"]
    client.get(f"/files/{wheel.path}")
    assert DownloadCount.objects.get(project=wheel.release.project).count == 2


def test_download_if_none_match_is_304_and_not_counted(client, wheel):
    default_storage.save(wheel.path, ContentFile(b"x"))
    response = client.get(f"/files/{wheel.path}", HTTP_IF_NONE_MATCH=f'"{wheel.sha256_digest}"')
    assert response.status_code == 304
    assert not DownloadCount.objects.exists()


def test_unknown_file_path_is_404_even_when_in_storage(client, db):
    default_storage.save("secret/other.txt", ContentFile(b"not a distribution"))
    assert client.get("/files/secret/other.txt").status_code == 404
    assert client.get("/files/../settings.py").status_code == 404


def test_missing_bytes_are_404(client, wheel):
    assert client.get(f"/files/{wheel.path}").status_code == 404


def test_core_metadata_is_served_beside_the_file(client, wheel):
    metadata = b"Metadata-Version: 2.1\nName: sample-project\nVersion: 1.0\n"
    default_storage.save(f"{wheel.path}.metadata", ContentFile(metadata))
    response = client.get(f"/files/{wheel.path}.metadata")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == metadata
    assert not DownloadCount.objects.exists()


def test_metadata_is_404_when_file_has_none(client, project):
    file = FileFactory(release=ReleaseFactory(project=project), metadata_sha256_digest="")
    default_storage.save(f"{file.path}.metadata", ContentFile(b"Name: x"))
    assert client.get(f"/files/{file.path}.metadata").status_code == 404


def test_metadata_hash_matches_what_index_advertises(client, project):
    metadata = b"Metadata-Version: 2.1\nName: sample-project\nVersion: 2.0\n"
    digest = hashlib.sha256(metadata).hexdigest()
    file = FileFactory(release=ReleaseFactory(project=project), metadata_sha256_digest=digest)
    default_storage.save(f"{file.path}.metadata", ContentFile(metadata))
    entry = client.get("/simple/sample-project/", HTTP_ACCEPT=JSON_V1).json()["files"][0]
    served = b"".join(client.get(entry["url"] + ".metadata").streaming_content)
    assert hashlib.sha256(served).hexdigest() == entry["core-metadata"]["sha256"]

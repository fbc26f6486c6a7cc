"""The simple API's details beyond the files: PEP 700's fields, PEP 691's `?format=`, CORS and
the project's serial in the headers and the documents, as PyPI serves them."""

import json
import re

import pytest
from django.db import transaction
from packaging.version import Version

from projects.models import Project
from projects.services.projects import bump_serial
from tests.factories import FileFactory, ProjectFactory, ReleaseFactory

JSON_V1 = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
PAGE = "/simple/spam-eggs/"
# PEP 700: ISO 8601 in UTC, `yyyy-mm-ddThh:mm:ss[.ffffff]Z`.
UPLOAD_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET",
    "Access-Control-Expose-Headers": "X-PyPI-Last-Serial",
    "Access-Control-Max-Age": "86400",
}


@pytest.fixture
def project(db):
    project = ProjectFactory(name="spam-eggs", normalized_name="spam-eggs")
    for version in ("0.9", "1.0", "1.0.post1"):
        release = ReleaseFactory(project=project, version=version)
        FileFactory(release=release, filename=f"spam_eggs-{version}-py3-none-any.whl", size=917)
    return project


def _bump(project):
    with transaction.atomic():
        bump_serial(project=project)
    project.refresh_from_db()


def test_json_page_carries_pep_700_fields(client, project):
    body = json.loads(client.get(PAGE, HTTP_ACCEPT=JSON_V1).content)
    assert body["meta"]["api-version"] == "1.4"
    assert sorted(body["versions"], key=Version) == ["0.9", "1.0", "1.0.post1"]
    for file in body["files"]:
        assert isinstance(file["size"], int)
        assert file["size"] == 917
        assert UPLOAD_TIME.fullmatch(file["upload-time"]), file["upload-time"]
        # Every file's version appears in `versions` (PEP 700).
        assert file["filename"].split("-")[1] in body["versions"]


@pytest.mark.parametrize(
    ("format_param", "accept", "expected"),
    [
        (JSON_V1, "text/html", JSON_V1),
        (HTML_V1, JSON_V1, HTML_V1),
        ("text/html", JSON_V1, "text/html; charset=utf-8"),
        ("application/vnd.pypi.simple.latest+json", "text/html", JSON_V1),
        # A browser's Accept header: the query alone decides.
        (JSON_V1, "text/html,application/xhtml+xml,*/*;q=0.8", JSON_V1),
    ],
)
def test_format_query_wins_over_the_accept_header(client, project, format_param, accept, expected):
    for path in (PAGE, "/simple/"):
        response = client.get(path, {"format": format_param}, HTTP_ACCEPT=accept)
        assert response.status_code == 200
        assert response["Content-Type"] == expected


@pytest.mark.parametrize("format_param", ["json", "application/json", "text/plain", "*/*"])
@pytest.mark.parametrize("path", [PAGE, "/simple/"])
def test_unknown_format_is_406_naming_the_formats_served(client, project, path, format_param):
    response = client.get(path, {"format": format_param}, HTTP_ACCEPT=JSON_V1)
    assert response.status_code == 406
    message = response.content.decode()
    assert repr(format_param) in message
    assert JSON_V1 in message
    assert HTML_V1 in message
    assert response["Access-Control-Allow-Origin"] == "*"


def test_format_sent_twice_is_refused(client, project):
    response = client.get(f"{PAGE}?format={JSON_V1}&format=text/html")
    assert response.status_code == 400


def test_redirect_to_the_normalized_name_keeps_the_format(client, project):
    response = client.get("/simple/Spam_Eggs/", {"format": JSON_V1})
    assert response.status_code == 301
    assert response["Location"] == f"{PAGE}?format=application%2Fvnd.pypi.simple.v1%2Bjson"


@pytest.mark.parametrize("accept", [JSON_V1, HTML_V1, "text/html"])
def test_serial_is_in_the_header_and_the_document(client, project, accept):
    _bump(project)
    _bump(project)
    response = client.get(PAGE, HTTP_ACCEPT=accept)
    assert response["X-PyPI-Last-Serial"] == "2"
    if accept == JSON_V1:
        assert json.loads(response.content)["meta"]["_last-serial"] == 2
    else:
        assert response.content.decode().rstrip().endswith("</html>\n<!--SERIAL 2-->")
    _bump(project)
    assert client.get(PAGE, HTTP_ACCEPT=accept)["X-PyPI-Last-Serial"] == "3"


def test_conditional_answer_carries_the_serial(client, project):
    etag = client.get(PAGE, HTTP_ACCEPT=JSON_V1)["ETag"]
    response = client.get(PAGE, HTTP_ACCEPT=JSON_V1, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response["X-PyPI-Last-Serial"] == "0"


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        (PAGE, JSON_V1),
        (PAGE, "text/html"),
        ("/simple/", JSON_V1),
        ("/simple/", "text/html"),
        ("/simple/no-such-project/", JSON_V1),  # 404
        ("/simple/Spam_Eggs/", JSON_V1),  # 301
        (PAGE, "application/xml"),  # 406
    ],
)
def test_every_simple_answer_allows_any_origin(client, project, path, accept):
    response = client.get(path, HTTP_ACCEPT=accept)
    for name, value in CORS.items():
        assert response[name] == value, (name, response.status_code)


def test_quarantined_project_page_still_carries_its_serial(client, project):
    with transaction.atomic():
        Project.objects.filter(pk=project.pk).update(status=Project.Status.QUARANTINED)
        bump_serial(project=project)
    response = client.get(PAGE, HTTP_ACCEPT=JSON_V1)
    body = json.loads(response.content)
    assert (body["files"], body["versions"]) == ([], [])
    assert body["meta"]["_last-serial"] == 1
    assert response["X-PyPI-Last-Serial"] == "1"


def test_json_page_matches_the_reference_example(client, db):
    """lifecycle.md §4.2's example: an archived project with a yanked sdist and a wheel."""
    project = ProjectFactory(
        name="spam-eggs",
        normalized_name="spam-eggs",
        status=Project.Status.ARCHIVED,
        status_reason="replaced by spam-eggs-ng",
    )
    old = ReleaseFactory(
        project=project, version="0.9", yanked=True, yanked_reason="wrong requires-python"
    )
    new = ReleaseFactory(project=project, version="1.0")
    FileFactory(release=old, filename="spam_eggs-0.9.tar.gz", size=18244, requires_python=">=3.9")
    FileFactory(
        release=new,
        filename="spam_eggs-1.0-py3-none-any.whl",
        size=9120,
        requires_python=">=3.10",
        metadata_sha256_digest="ef" * 32,
    )
    body = json.loads(client.get(PAGE, HTTP_ACCEPT=JSON_V1).content)
    assert body["meta"] == {"api-version": "1.4", "_last-serial": 0}
    assert body["name"] == "spam-eggs"
    assert body["project-status"] == {"status": "archived", "reason": "replaced by spam-eggs-ng"}
    assert sorted(body["versions"]) == ["0.9", "1.0"]
    sdist, wheel = body["files"]
    example_keys = {
        "filename",
        "url",
        "hashes",
        "requires-python",
        "size",
        "upload-time",
        "yanked",
        "core-metadata",
        "provenance",
    }
    # The example's keys, and PEP 714's old name for core-metadata beside them.
    assert set(sdist) == set(wheel) == example_keys | {"dist-info-metadata"}
    assert (sdist["yanked"], sdist["core-metadata"], sdist["size"]) == (
        "wrong requires-python",
        False,
        18244,
    )
    assert sdist["requires-python"] == ">=3.9"
    assert (wheel["yanked"], wheel["core-metadata"]) == (False, {"sha256": "ef" * 32})
    assert wheel["provenance"] is None
    assert set(wheel["hashes"]) == {"sha256"}

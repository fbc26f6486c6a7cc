"""The public project page: install lines naming this index, the rendered description, the
metadata, release history with yanked and quarantined marks, status banners, files."""

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone

from projects.models import File, Project, Release, Role
from projects.services.projects import bump_serial, create_project
from tests.factories import (
    FileFactory,
    ReleaseFactory,
    RoleFactory,
    TwoFactorUserFactory,
    UserFactory,
)
from tests.projects.test_descriptions import PAYLOADS, active_content

pytestmark = pytest.mark.django_db

METADATA = {
    "metadata_version": "2.4",
    "name": "Widget",
    "version": "2.0",
    "summary": "Widgets for everyone.",
    "description": "# Widget\n\nMakes **widgets**.\n",
    "description_content_type": "text/markdown",
    "license_expression": "MIT OR Apache-2.0",
    "requires_python": ">=3.10",
    "classifiers": [
        "Programming Language :: Python :: 3.12",
        "Operating System :: OS Independent",
        "Programming Language :: Python :: 3.11",
    ],
    "project_urls": {
        "Source": "https://git.example.org/widget",
        "Docs": "http://docs.example.org/widget",
        "Evil": "javascript:alert(1)",
        "Data": "data:text/html,<script>alert(1)</script>",
        "Relative": "/admin/",
        "Spaced": " JAVASCRIPT:alert(1)",
    },
    "home_page": "vbscript:msgbox(1)",
}


def page(client, name="widget", version=None):
    url = (
        reverse("projects:release", kwargs={"name": name, "version": version})
        if version
        else reverse("projects:detail", kwargs={"name": name})
    )
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.append(dict(attrs))


def links_in(html: str) -> list[dict[str, str | None]]:
    parser = _Links()
    parser.feed(html)
    return parser.links


@pytest.fixture
def release(project):
    release = ReleaseFactory(
        project=project, version="2.0", requires_python=">=3.10", metadata=METADATA
    )
    release.summary = METADATA["summary"]
    release.save()
    FileFactory(release=release, filename="widget-2.0-py3-none-any.whl", sha256_digest="a" * 64)
    FileFactory(
        release=release,
        filename="widget-2.0.tar.gz",
        packagetype=File.PackageType.SDIST,
        python_version="source",
        sha256_digest="b" * 64,
    )
    return release


def test_install_lines_name_this_index_with_copy_buttons(client, release, settings):
    settings.SITE_URL = "https://packages.example.com"
    html = page(client)
    index = "https://packages.example.com/simple/"
    for command in (
        f"pip install --index-url {index} widget",
        f"uv pip install --index-url {index} widget",
        f"uv add --index {index} widget",
    ):
        assert command in html
    # Every install command on the page names the index; none is the bare form.
    commands = re.findall(r'<code id="install-[^"]+">([^<]*)</code>', html)
    assert len(commands) == 3
    assert all(index in command for command in commands)
    for target in ("install-pip", "install-uv-pip", "install-uv-add"):
        assert f'data-copy-target="{target}"' in html
    assert "js/copy.js" in html
    assert "dependency confusion" in html


def test_a_version_page_pins_the_version(client, release, project):
    ReleaseFactory(project=project, version="3.0")
    html = page(client, version="2.0")
    assert "widget==2.0" in html
    assert "Files of 2.0" in html


def test_metadata_is_shown(client, release, owner):
    html = page(client)
    assert "<code>MIT OR Apache-2.0</code>" in html
    assert "&gt;=3.10" in html
    assert "Programming Language" in html
    assert "Python :: 3.11" in html
    assert "Operating System" in html
    assert "OS Independent" in html
    assert owner.username in html
    assert "(Owner)" in html
    assert "Widgets for everyone." in html
    assert "<strong>widgets</strong>" in html
    for digest in ("a" * 64, "b" * 64):
        assert digest in html
    assert timezone.localtime(release.files.first().uploaded_at).strftime("%Y-%m-%d") in html


def test_project_links_are_only_http_and_https_with_nofollow(client, release):
    html = page(client)
    sidebar = html.split('<ul class="project-links">', 1)[1].split("</ul>", 1)[0]
    outside = links_in(sidebar)
    assert {link["href"] for link in outside} == {
        "https://git.example.org/widget",
        "http://docs.example.org/widget",
    }
    for link in outside:
        assert set(link["rel"].split()) >= {"nofollow", "noopener"}
    for label in ("Evil", "Data", "Relative", "Spaced"):
        assert f">{label}</a>" not in html
    assert "vbscript" not in html
    assert "javascript:" not in html.lower()


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("content_type", ["", "text/markdown", "text/plain"])
def test_the_page_shows_no_active_content_from_the_description(
    client, project, payload, content_type
):
    ReleaseFactory(
        project=project,
        version="1.0",
        metadata={"description": f"Intro\n\n{payload}\n", "description_content_type": content_type},
    )
    html = page(client)
    description = html.split('<div class="project-description">', 1)[1].split("</section>", 1)[0]
    assert active_content(description) == []


def test_release_history_marks_yanked_releases_with_their_reason(client, project, release):
    ReleaseFactory(project=project, version="2.1", yanked=True, yanked_reason="Broken <b>build</b>")
    html = page(client)
    assert '<span class="badge badge-warning">yanked</span>' in html
    assert "Broken &lt;b&gt;build&lt;/b&gt;" in html
    # The default release is the newest one not yanked.
    assert "Files of 2.0" in html
    yanked_page = page(client, version="2.1")
    assert "This release is yanked." in yanked_page
    assert "==2.1" in yanked_page


def test_the_default_release_is_the_newest_final_one(client, project):
    for version in ("1.0", "1.10", "1.9", "2.0rc1"):
        ReleaseFactory(project=project, version=version)
    html = page(client)
    assert "Files of 1.10" in html
    history = html.split('id="releases-heading"', 1)[1]
    assert (
        history.index(">2.0rc1<")
        < history.index(">1.10<")
        < history.index(">1.9<")
        < history.index(">1.0<")
    )


@pytest.fixture
def quarantined(project, release):
    return ReleaseFactory(
        project=project, version="2.5", is_quarantined=True, quarantine_reason="Under review"
    )


def test_quarantined_releases_are_hidden_from_the_public(client, login, quarantined, project):
    maintainer = TwoFactorUserFactory()
    RoleFactory(project=project, user=maintainer, role=Role.Kind.MAINTAINER)
    for viewer in (None, UserFactory(), maintainer):
        if viewer is not None:
            login(viewer)
        html = page(client)
        assert "2.5" not in html
        assert "quarantined" not in html
        assert client.get("/project/widget/2.5/").status_code == 404


@pytest.mark.parametrize("viewer", ["owner", "staff"])
def test_owners_and_staff_see_quarantined_releases_marked(
    client, login, quarantined, owner, viewer
):
    login(owner if viewer == "owner" else TwoFactorUserFactory(is_staff=True))
    html = page(client)
    assert '<span class="badge badge-danger">quarantined</span>' in html
    assert "Under review" in html
    assert "Files of 2.0" in html  # never the default release
    release_page = page(client, version="2.5")
    assert "This release is quarantined" in release_page
    assert 'id="install-pip"' not in release_page


def test_archived_project_shows_a_banner(client, project, release):
    Project.objects.filter(pk=project.pk).update(
        status=Project.Status.ARCHIVED, status_reason="Finished."
    )
    html = page(client)
    assert "<strong>Archived.</strong>" in html
    assert "Finished." in html
    assert 'id="install-pip"' in html  # still installable


def test_deprecated_project_links_its_successor(client, owner, project, release):
    successor = create_project(name="Gadget", creator=owner)
    Project.objects.filter(pk=project.pk).update(
        status=Project.Status.DEPRECATED, successor=successor
    )
    html = page(client)
    assert "<strong>Deprecated.</strong>" in html
    assert '<a href="/project/gadget/">Gadget</a>' in html


def test_quarantined_project_shows_a_banner_and_no_files(client, project, release):
    Project.objects.filter(pk=project.pk).update(
        status=Project.Status.QUARANTINED, status_reason="Malware report"
    )
    html = page(client)
    assert "<strong>Quarantined.</strong>" in html
    assert "widget-2.0" not in html
    assert 'id="install-pip"' not in html
    assert "Malware report" not in html  # the reason is for the owners and admins


def test_unknown_version_is_404_and_unnormalized_names_redirect(client, release):
    assert client.get("/project/widget/9.9/").status_code == 404
    response = client.get("/project/Widget/2.0/")
    assert response.status_code == 301
    assert response["Location"] == "/project/widget/2.0/"
    # A version is found by its canonical form.
    assert "Files of 2.0" in page(client, version="2.0.0")


def _bulk_files(release: Release, count: int, start: int = 0) -> None:
    File.objects.bulk_create(
        File(
            release=release,
            filename=f"widget-{n}.tar.gz",
            packagetype=File.PackageType.SDIST,
            size=10,
            md5_digest=f"{n:032x}",
            sha256_digest=f"{n:064x}",
            blake2_256_digest=f"{n + 1:064x}",
            path=f"p/{n}/widget-{n}.tar.gz",
        )
        for n in range(start, start + count)
    )


# The page's queries: project (with successor), roles, releases, one release's metadata, its
# files (only while its rows are not cached for the serial); a signed-in viewer adds the user
# (the session is read from the cache).
ANONYMOUS_QUERIES = 5
SIGNED_IN_QUERIES = 6


@pytest.mark.parametrize(
    ("layout", "signed_in"),
    [(layout, signed_in) for layout in ("one release", "100 releases") for signed_in in (0, 1)],
)
@pytest.mark.usefixtures("project")
def test_project_page_query_count_is_pinned_at_1000_files(
    client, login, layout, signed_in, django_assert_num_queries
):
    project = Project.objects.get(normalized_name="widget")
    owner = project.roles.get(role=Role.Kind.OWNER).user
    if layout == "one release":
        _bulk_files(ReleaseFactory(project=project, version="1.0", metadata=METADATA), 1000)
    else:
        for n in range(100):
            release = ReleaseFactory(project=project, version=f"1.{n}", metadata=METADATA)
            _bulk_files(release, 10, start=n * 10)
    if signed_in:
        login(owner)
    queries = SIGNED_IN_QUERIES if signed_in else ANONYMOUS_QUERIES
    expected_files = 1000 if layout == "one release" else 10
    for cached_rows in (False, True):
        with django_assert_num_queries(queries - cached_rows):
            response = client.get(reverse("projects:detail", kwargs={"name": "widget"}))
        assert response.status_code == 200
        assert response.content.count(b'<code class="digest">') == expected_files


def test_a_new_file_shows_once_the_serial_moves(client, project, release):
    assert "widget-2.0-cp311" not in page(client)
    FileFactory(release=release, filename="widget-2.0-cp311-cp311-manylinux_2_17_x86_64.whl")
    bump_serial(project=project)

    assert "widget-2.0-cp311-cp311-manylinux_2_17_x86_64.whl" in page(client)

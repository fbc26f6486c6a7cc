"""An upload whose long description cannot be rendered is refused with PyPI's message; one
that renders is accepted and shown rendered (and cleaned) on the project page."""

import pytest

from projects.models import File, Release
from publishing.upload.description import DESCRIPTION_CONTENT_TYPE_HELP
from tests.projects.test_descriptions import PAYLOADS, active_content
from tests.publishing.upload.conftest import refusal
from tests.publishing.upload.dists import make_wheel

pytestmark = pytest.mark.django_db

BROKEN_RST = [
    "Title\n=====\n\n.. no-such-directive::\n",
    "Title\n=====\n\n.. raw:: html\n\n   <script>alert(1)</script>\n",
    ".. include:: /etc/passwd\n",
    "Title\n====\n\nThe underline is too short.\n",
    "`unterminated link <https://example.org/\n",
]


@pytest.mark.parametrize("description", BROKEN_RST)
@pytest.mark.parametrize("content_type", [None, "text/x-rst", "text/x-rst; charset=UTF-8"])
def test_restructuredtext_that_fails_to_render_is_refused(upload, description, content_type):
    response = upload(make_wheel(), description=description, description_content_type=content_type)

    message = refusal(response)
    where = f"for '{content_type}'" if content_type else "in the default format of reStructuredText"
    assert message.startswith(f"The description failed to render {where}.")
    assert "twine check" in message
    assert message.endswith(DESCRIPTION_CONTENT_TYPE_HELP)
    assert not File.objects.exists()
    assert not Release.objects.exists()


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("content_type", ["text/markdown", "text/plain"])
def test_hostile_markdown_and_text_are_accepted_and_shown_inert(
    upload, client, payload, content_type
):
    response = upload(make_wheel(), description=payload, description_content_type=content_type)

    assert response.status_code == 200, response.content
    page = client.get("/project/sample-pkg/").content.decode()
    description = page.split('<div class="project-description">', 1)[1].split("</section>")[0]
    assert active_content(description) == []


def test_a_rendered_description_is_shown_on_the_project_page(upload, client):
    description = (
        "Sample\n======\n\nA *small* package. See `the docs <https://docs.example.org/>`_."
    )

    assert upload(make_wheel(), description=description).status_code == 200

    page = client.get("/project/sample-pkg/").content.decode()
    assert "<em>small</em>" in page
    assert '<a href="https://docs.example.org/" rel="nofollow">the docs</a>' in page


def test_an_upload_without_a_description_is_accepted(upload):
    assert upload(make_wheel(), description=None).status_code == 200

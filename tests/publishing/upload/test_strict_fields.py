"""The upload form: one value where one is meant, no control characters but in the description."""

import pytest

from projects.models import File
from tests.publishing.upload.conftest import refusal
from tests.publishing.upload.dists import make_wheel

SINGLE_VALUED = [
    ":action",
    "protocol_version",
    "metadata_version",
    "name",
    "version",
    "summary",
    "filetype",
    "pyversion",
    "sha256_digest",
    "blake2_256_digest",
    "md5_digest",
    "author",
    "license",
    "requires_python",
    "description_content_type",
]


@pytest.mark.parametrize("field", SINGLE_VALUED)
def test_a_single_valued_field_sent_twice_is_refused(upload, field):
    wheel = make_wheel()
    form = wheel.form()
    value = form.get(field, "x")
    form[field] = [value, value]

    response = upload(wheel, fields=form)

    assert response.status_code == 400
    assert refusal(response) == f"The field '{field}' was sent more than once; send it once."
    assert not File.objects.exists()


def test_a_second_content_part_is_refused(upload):
    wheel = make_wheel()

    response = upload(wheel, fields={**wheel.form(), "content": "second"})

    assert response.status_code == 400
    assert refusal(response) == "The field 'content' was sent more than once; send it once."
    assert not File.objects.exists()


def test_list_fields_may_repeat(upload):
    wheel = make_wheel()
    form = wheel.form(
        classifiers=["Programming Language :: Python :: 3", "Operating System :: OS Independent"],
        project_urls=["Source, https://example.org/src", "Docs, https://example.org/docs"],
    )

    response = upload(wheel, fields=form)

    assert response.status_code == 200, response.content
    assert File.objects.count() == 1


CONTROL_CHARACTERS = {
    "NUL": ("\x00", "U+0000"),
    "ESC": ("\x1b[31mred", "U+001B"),
    "CR": ("a\rb", "U+000D"),
    "NEL": ("a\x85b", "U+0085"),
    "RLO": ("a\u202eb", "U+202E"),
    "LRI": ("a\u2066b", "U+2066"),
    "DEL": ("a\x7fb", "U+007F"),
}


@pytest.mark.parametrize("field", ["summary", "author", "keywords", "license", "comment"])
@pytest.mark.parametrize(("text", "code"), CONTROL_CHARACTERS.values(), ids=CONTROL_CHARACTERS)
def test_control_characters_in_metadata_are_refused_naming_the_field(upload, field, text, code):
    wheel = make_wheel()

    response = upload(wheel, **{field: f"before {text} after"})

    assert response.status_code == 400
    message = refusal(response)
    assert message.startswith(f"'{field}' must not contain control characters (found {code})")
    assert not File.objects.exists()


def test_a_new_line_in_a_one_line_field_is_refused(upload):
    wheel = make_wheel()

    response = upload(wheel, summary="first line\nsecond line")

    assert response.status_code == 400
    assert refusal(response).startswith(
        "'summary' must not contain control characters (found U+000A)"
    )


def test_multi_line_fields_and_the_description_keep_their_line_breaks(upload):
    wheel = make_wheel()

    response = upload(
        wheel,
        license="MIT License\r\n\r\nCopyright (c) 2026\n",
        description="# Title\n\n```\n\x1b is shown as text by the renderer\n```\n",
    )

    assert response.status_code == 200, response.content
    metadata = File.objects.get().release.metadata
    assert metadata["license"] == "MIT License\r\n\r\nCopyright (c) 2026\n"
    assert "\x1b is shown" in metadata["description"]

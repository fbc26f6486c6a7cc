"""Text the database cannot store never reaches a query: in a URL a 404, in a query value a 400.

A NUL in `/simple/<name>/`, `/project/<name>/` or `/files/<path>` raised a database error (a 500)
on PostgreSQL. The site's text converters refuse such a capture before any view runs, and
`single_query_value` refuses such a query value; these tests walk every URL of the site.
"""

import pytest
from django.test import Client
from django.urls.converters import PathConverter, StringConverter

from index_site.storable_text import first_unstorable_character
from index_site.url_converters import TextConverter, TextPathConverter
from tests.accounts.two_factor.conftest import login_recently
from tests.factories import ProjectFactory, RoleFactory, TwoFactorUserFactory
from tests.url_walk import walk_urls

# Percent-encoded as a client sends them: NUL, and NUL between real characters.
UNSTORABLE_SAMPLES = ["%00", "x%00", "a%00b", "sample-project%00.tar.gz"]
# Django's admin is Django's own code: its captures keep Django's converters.
OWN_URLS = [walked for walked in walk_urls() if not walked.route.startswith("admin/")]


def test_every_text_capture_in_the_site_refuses_unstorable_text():
    plain = [
        f"{walked.route}: <{name}> uses {type(converter).__name__}"
        for walked in OWN_URLS
        for name, converter in walked.converters
        if type(converter) in {StringConverter, PathConverter}
    ]
    assert plain == [], "use <text:...> or <textpath:...> (index_site.url_converters)"
    assert any(walked.has_text_capture for walked in OWN_URLS)


@pytest.mark.parametrize("converter", [TextConverter(), TextPathConverter()])
@pytest.mark.parametrize("value", ["\x00", "a\x00b", "\ud800", "x\udfff", "a/\x00/b"])
def test_the_converters_refuse_what_the_database_cannot_store(converter, value):
    with pytest.raises(ValueError, match="unstorable"):
        converter.to_python(value)


@pytest.mark.parametrize("value", ["sample-project", "ünïcode", "a.b_c", "\U0001f600"])
def test_the_converters_pass_ordinary_text_through(value):
    assert TextConverter().to_python(value) == value
    assert TextPathConverter().to_python(f"{value}/{value}") == f"{value}/{value}"


def test_only_nul_and_lone_surrogates_are_unstorable():
    assert first_unstorable_character("a\x00") == "\x00"
    assert first_unstorable_character("\udc80") == "\udc80"
    assert first_unstorable_character("\x01\x7f\ufffd\U0010ffff") is None


def _clients() -> dict[str, Client]:
    owner = TwoFactorUserFactory()
    RoleFactory(user=owner, project=ProjectFactory(name="sample-project"))
    logged_in = Client(raise_request_exception=False)
    login_recently(logged_in, owner)
    return {"anonymous": Client(raise_request_exception=False), "owner": logged_in}


@pytest.mark.django_db
@pytest.mark.parametrize("sample", UNSTORABLE_SAMPLES)
def test_an_unstorable_character_in_any_url_part_is_a_404(sample):
    clients = _clients()
    walked = [url for url in walk_urls(text_sample=sample) if url.has_text_capture]
    answers = {
        f"{who} {method} {url.path}": getattr(client, method)(url.path).status_code
        for url in walked
        if not url.route.startswith("admin/")
        for who, client in clients.items()
        for method in ("get", "post")
    }
    assert answers
    assert {request: status for request, status in answers.items() if status != 404} == {}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/simple/?format=%00", "format"),
        ("/simple/sample-project/?format=json%00", "format"),
        ("/manage/projects/?order=name%00", "order"),
        ("/manage/projects/?critical=%001", "critical"),
        ("/account/verify-email/?token=%00", "token"),
        ("/tokens/new/?selected_project=sample-project%00", "selected_project"),
    ],
)
def test_an_unstorable_character_in_a_query_value_is_a_400_with_a_sentence(path, name):
    response = _clients()["owner"].get(path)

    assert response.status_code == 400
    assert (
        f"The field &#x27;{name}&#x27; contains a character this index cannot store (U+0000); "
        "remove it and try again."
    ) in response.content.decode()

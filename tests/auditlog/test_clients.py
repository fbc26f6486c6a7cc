"""The client of an event in words, for installers and browsers alike."""

import pytest

from auditlog.clients import client_in_words


@pytest.mark.parametrize(
    ("user_agent", "words"),
    [
        ('uv/0.13.9 {"installer":{"name":"uv","version":"0.13.9"}}', "uv 0.13.9"),
        ("twine/7.0.0 CPython/3.11.9", "twine 7.0.0"),
        ('pip/26.0 {"ci":null,"cpu":"x86_64"}', "pip 26.0"),
        ("python-requests/2.34.2", "python-requests 2.34.2"),
        (
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                "Chrome/156.0.0.0 Safari/537.36"
            ),
            "Chrome 156 on Linux",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0",
            "Firefox 140 on Windows",
        ),
        ("some-tool/1.2 extra", "some-tool 1.2"),
        ("", ""),
    ],
)
def test_clients_are_named_as_a_person_would(user_agent, words):
    assert client_in_words(user_agent) == words

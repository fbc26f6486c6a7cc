"""The breached-password validator against a local k-anonymity range server."""

import logging

import pytest
from django.core.exceptions import ValidationError

from accounts.passwords import BreachedPasswordValidator, is_password_breached
from tests.accounts.conftest import BREACHED, sha1_hex


def test_breached_password_is_refused(range_server):
    with pytest.raises(ValidationError) as error:
        BreachedPasswordValidator().validate(BREACHED)
    assert error.value.code == "password_breached"
    assert "data breach" in error.value.messages[0]


def test_only_the_five_character_prefix_leaves_the_server(range_server):
    BreachedPasswordValidator().validate("an unbreached passphrase 991")
    (path,) = range_server.requested
    digest = sha1_hex("an unbreached passphrase 991")
    assert path == f"/range/{digest[:5]}"


def test_unbreached_password_passes(range_server):
    BreachedPasswordValidator().validate("an unbreached passphrase 991")
    assert is_password_breached("an unbreached passphrase 991") is False


def test_padding_lines_do_not_count_as_breached(range_server):
    # The service pads answers with fake suffixes of count 0; one may equal ours.
    password = "an unbreached passphrase 991"
    range_server.padding_suffix = sha1_hex(password)[5:]
    assert is_password_breached(password) is False


def test_check_is_skipped_when_not_configured(settings):
    settings.BREACHED_PASSWORDS_URL = ""
    assert is_password_breached(BREACHED) is None
    BreachedPasswordValidator().validate(BREACHED)


def test_service_error_fails_open_with_a_log_line(range_server, caplog):
    range_server.status = 503
    with caplog.at_level(logging.WARNING, logger="accounts.passwords"):
        BreachedPasswordValidator().validate(BREACHED)
    assert "breached-password check unavailable" in caplog.text
    assert BREACHED not in caplog.text


def test_unreachable_service_fails_open(settings, caplog):
    settings.BREACHED_PASSWORDS_URL = "http://127.0.0.1:9/range"  # discard port: refused
    BreachedPasswordValidator().validate(BREACHED)
    assert "breached-password check unavailable" in caplog.text


@pytest.mark.django_db
def test_registration_with_a_breached_password_is_refused(range_server, client):
    response = client.post(
        "/account/register/",
        {
            "username": "grace",
            "email": "grace@example.com",
            "new_password1": BREACHED,
            "new_password2": BREACHED,
        },
    )
    assert response.status_code == 200
    assert b"appears in a public data breach" in response.content

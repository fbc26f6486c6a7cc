"""System checks refuse token settings that would break minting or leak reports."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tokens.checks import check_token_secret_strength, check_token_settings

GOOD_SECRET = "a" * 48


def ids(settings) -> set[str]:
    return {error.id for error in check_token_settings(None)}


def test_the_test_settings_pass(settings):
    assert ids(settings) == set()


def test_secret_id_must_name_a_secret(settings):
    settings.TOKEN_SECRETS = {"1": GOOD_SECRET}
    settings.TOKEN_SECRET_ID = "2"
    assert "tokens.E001" in ids(settings)


def test_short_secret_is_reported_by_the_deploy_check(settings):
    assert check_token_secret_strength(None) == []
    settings.TOKEN_SECRETS = {"1": "short"}
    settings.TOKEN_SECRET_ID = "1"
    assert [w.id for w in check_token_secret_strength(None)] == ["tokens.W001"]


@pytest.mark.parametrize("prefix", ["", "py-pi", "pypí", "py pi"])
def test_prefix_must_be_plain(settings, prefix):
    settings.TOKEN_PREFIX = prefix
    assert "tokens.E003" in ids(settings)


def _pem(key) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_scanning_keys_must_be_ecdsa_pem(settings):
    settings.SECRET_SCANNING_PUBLIC_KEYS = {"ok": _pem(ec.generate_private_key(ec.SECP256R1()))}
    assert ids(settings) == set()
    settings.SECRET_SCANNING_PUBLIC_KEYS = {
        "rsa": _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "junk": "not a key",
    }
    errors = [e for e in check_token_settings(None) if e.id == "tokens.E004"]
    assert len(errors) == 2

"""Every refused token request leaves the operator one structured log line with its reason."""

import logging

import pytest

from tests.publishing.oidc.conftest import error_code, github_claims

pytestmark = pytest.mark.django_db


def test_a_refused_mint_is_logged_with_its_code_and_reason_and_never_the_token(
    github, github_publisher, mint, caplog
):
    token = github.sign(github_claims(iss="https://evil.example"))

    with caplog.at_level(logging.INFO, logger="publishing.api"):
        status, body = mint(token)

    assert status == 422
    (record,) = [r for r in caplog.records if r.getMessage() == "token request refused"]
    assert record.code == error_code(body)
    assert record.reason == body["errors"][0]["description"]
    assert record.status == 422
    assert all(token not in r.getMessage() and token not in str(r.__dict__) for r in caplog.records)

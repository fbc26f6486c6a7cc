"""GET /_/oidc/audience and POST /_/oidc/burn-token."""

import json

import pytest

from publishing.models import AdminFlag
from tests.publishing.oidc.conftest import AUDIENCE, error_code, github_claims
from tokens.models import ApiToken

pytestmark = pytest.mark.django_db


def test_audience_is_served(client):
    response = client.get("/_/oidc/audience")
    assert response.status_code == 200
    assert response.json() == {"audience": AUDIENCE}


def test_audience_is_404_when_trusted_publishing_is_not_configured(client, settings):
    settings.OIDC_AUDIENCE = ""
    assert client.get("/_/oidc/audience").status_code == 404


def test_audience_is_403_when_disabled_by_setting(client, settings):
    settings.TRUSTED_PUBLISHING_ENABLED = False
    response = client.get("/_/oidc/audience")
    assert response.status_code == 403
    assert response.json()["message"] == "Trusted publishing functionality not enabled"


def test_audience_is_403_when_an_admin_flag_disables_it(client):
    AdminFlag.objects.create(id=AdminFlag.DISALLOW_OIDC, is_enabled=True)
    assert client.get("/_/oidc/audience").status_code == 403


def test_mint_token_refuses_get(client):
    assert client.get("/_/oidc/mint-token").status_code == 405


def _burn(client, token):
    return client.post(
        "/_/oidc/burn-token", data=json.dumps({"token": token}), content_type="application/json"
    )


def test_burn_token_revokes_the_minted_token_at_once(github, github_publisher, mint, client):
    _, body = mint(github.sign(github_claims()))
    response = _burn(client, body["token"])
    assert response.status_code == 202
    assert not ApiToken.objects.exists()
    # Burning twice is refused: the token no longer exists.
    again = _burn(client, body["token"])
    assert (again.status_code, error_code(again.json())) == (422, "invalid-token")


def test_burn_token_refuses_a_user_token(client, owner):
    from tokens.services import create_api_token  # noqa: PLC0415 - a real user token

    token, raw = create_api_token(user=owner, name="laptop", actor=owner)
    response = _burn(client, raw)
    assert (response.status_code, error_code(response.json())) == (422, "invalid-token")
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_burn_token_refuses_garbage(client):
    response = _burn(client, "pypi-garbage")
    assert (response.status_code, error_code(response.json())) == (422, "invalid-token")


def test_system_check_refuses_an_inexact_issuer_setting(settings):
    from publishing.oidc.checks import check_trusted_publishing_settings  # noqa: PLC0415

    assert check_trusted_publishing_settings() == []
    settings.OIDC_GITHUB_ISSUER = "http://token.actions.githubusercontent.com/"
    settings.OIDC_LEEWAY = 600
    ids = {message.id for message in check_trusted_publishing_settings()}
    assert ids == {"publishing.E001", "publishing.W001"}

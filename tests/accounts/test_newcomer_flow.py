"""A newcomer registers, verifies their address, logs in, and manages their password."""

import pytest

from accounts.models import Email, User
from tests.accounts.conftest import emails, link_in

pytestmark = pytest.mark.django_db

PASSWORD = "a long and unusual passphrase 42"
NEW_PASSWORD = "another unusual passphrase 97"


def test_newcomer_registers_verifies_logs_in_changes_and_resets_password(client, settings):
    settings.TWO_FACTOR_POLICY = "critical"  # a newcomer owns no critical project yet
    response = client.post(
        "/account/register/",
        {
            "username": "ada",
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "new_password1": PASSWORD,
            "new_password2": PASSWORD,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/account/register/done/"
    assert client.get(response["Location"]).status_code == 200

    (verification,) = emails("accounts/verify_email", "ada@example.com")
    link = link_in(verification, "/account/verify-email/")
    page = client.get(link)
    assert page.status_code == 200
    token = page.context["token"]
    response = client.post("/account/verify-email/", {"token": token})
    assert response.status_code == 302
    assert Email.objects.get(email="ada@example.com").is_verified

    response = client.post("/account/login/", {"username": "ada", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/manage/projects/"

    history = client.get("/account/security-history/")
    assert history.status_code == 200
    types = [event.event_type for event in history.context["page"].events]
    assert types[:3] == ["account:login:success", "account:email:verified", "account:email:add"]
    assert "account:create" in types

    response = client.post(
        "/account/settings/password/",
        {
            "current_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert emails("accounts/password_changed", "ada@example.com")

    client.post("/account/logout/")
    assert client.get("/account/settings/").status_code == 302

    client.post("/account/password-reset/", {"identifier": "ada@example.com"})
    (reset,) = emails("accounts/password_reset")
    response = client.get(link_in(reset, "/account/password-reset/"))
    assert response.status_code == 302
    form_url = response["Location"]
    response = client.post(
        form_url, {"new_password1": PASSWORD + "!", "new_password2": PASSWORD + "!"}
    )
    assert response.status_code == 302
    assert User.objects.get(username="ada").check_password(PASSWORD + "!")

    response = client.post("/account/login/", {"username": "ada", "password": PASSWORD + "!"})
    assert response.status_code == 302

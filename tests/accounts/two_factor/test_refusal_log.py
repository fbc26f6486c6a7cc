"""Every refused second-factor step writes one log line for the operator: what was refused, its
reason code and the account id, never the code, password or key material sent."""

import json

import pytest
from django.urls import reverse

from tests.accounts.two_factor.conftest import (
    begin_pending_login,
    code_at,
    current_step,
    login_recently,
    pending_secret,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def refusals(caplog) -> list[tuple[str, str, object]]:
    return [
        (record.refused, record.reason, getattr(record, "user_id", None))
        for record in caplog.records
        if record.name == "gatehouse.refusals"
    ]


def test_a_wrong_code_at_the_second_login_step_is_logged(client, totp_user, caplog):
    caplog.set_level("INFO", logger="gatehouse.refusals")
    begin_pending_login(client, totp_user)
    wrong = code_at(totp_user.totp_secret, current_step() + 5)
    client.post(reverse("accounts:login_two_factor"), {"code": wrong})
    client.post(reverse("accounts:login_recovery_code"), {"code": "f" * 16})
    assert refusals(caplog) == [
        ("login step", "totp_out_of_sync", totp_user.pk),
        ("login step", "invalid_recovery_code", totp_user.pk),
    ]
    assert wrong not in caplog.text
    assert "f" * 16 not in caplog.text


def test_a_wrong_password_is_logged_without_the_password(client, user, caplog):
    caplog.set_level("INFO", logger="gatehouse.refusals")
    client.post(reverse("accounts:login"), {"username": user.username, "password": "hunter2!x"})
    assert refusals(caplog) == [("login step", "bad_password", user.pk)]
    assert "hunter2!x" not in caplog.text


def test_a_wrong_code_while_setting_up_an_app_is_logged(client, clock, caplog):
    caplog.set_level("INFO", logger="gatehouse.refusals")
    user = UserFactory()
    login_recently(client, user)
    client.get(reverse("accounts:totp_setup"))
    secret = pending_secret(client)
    wrong = code_at(secret, current_step() + 5)
    client.post(reverse("accounts:totp_setup"), {"code": wrong})
    assert refusals(caplog) == [("two-factor setup", "totp_out_of_sync", user.pk)]
    assert secret not in caplog.text
    assert wrong not in caplog.text


def test_a_refused_security_key_registration_is_logged(client, clock, caplog):
    caplog.set_level("INFO", logger="gatehouse.refusals")
    user = UserFactory()
    login_recently(client, user)
    client.post(reverse("accounts:webauthn_register_options"), {"kind": "security_key"})
    forged = {"label": "key", "credential": {"id": "AAAA", "rawId": "AAAA", "type": "x"}}
    client.post(
        reverse("accounts:webauthn_register"), json.dumps(forged), content_type="application/json"
    )
    [(what, reason, user_id)] = refusals(caplog)
    assert (what, user_id) == ("two-factor setup", user.pk)
    assert reason
    assert "AAAA" not in caplog.text


def test_a_refused_passkey_login_is_logged(client, caplog):
    caplog.set_level("INFO", logger="gatehouse.refusals")
    client.post(reverse("accounts:passkey_login_options"))
    client.post(
        reverse("accounts:passkey_login_verify"),
        json.dumps({"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}),
        content_type="application/json",
    )
    [(what, reason, _user_id)] = refusals(caplog)
    assert what == "passkey login"
    assert reason.startswith("invalid_webauthn:")

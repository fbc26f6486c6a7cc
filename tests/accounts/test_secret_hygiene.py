"""Passwords sent through the account pages never reach logs or audit rows."""

import logging

import pytest
from django.test import Client

from auditlog.models import AuditEvent

pytestmark = pytest.mark.django_db

SENTINEL = "SENTINEL-pass-phrase-do-not-log-8472"


def test_sentinel_password_appears_in_no_log_and_no_audit_row(user, caplog, settings):
    settings.TWO_FACTOR_POLICY = "critical"
    caplog.set_level(logging.DEBUG)
    Client().post("/account/login/", {"username": user.username, "password": SENTINEL})
    Client().post("/account/login/", {"username": "nobody-here", "password": SENTINEL})
    Client().post("/account/login/", {"username": SENTINEL, "password": SENTINEL})
    Client().post(
        "/account/register/",
        {
            "username": "newbie",
            "email": user.email,
            "new_password1": SENTINEL,
            "new_password2": SENTINEL,
        },
    )
    Client().post("/account/password-reset/", {"identifier": SENTINEL})
    logged_in = Client()
    logged_in.force_login(user)
    logged_in.post("/account/reauthenticate/", {"password": SENTINEL})
    logged_in.post(
        "/account/settings/password/",
        {"current_password": SENTINEL, "new_password1": SENTINEL, "new_password2": SENTINEL},
    )
    assert AuditEvent.objects.filter(event_type="account:login:failure").exists()
    assert SENTINEL not in caplog.text
    for event in AuditEvent.objects.all():
        assert SENTINEL not in str(event.data)
        assert SENTINEL not in event.username

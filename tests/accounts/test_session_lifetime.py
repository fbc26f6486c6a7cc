"""How long a login lasts: twelve hours from the login, whatever the session does meanwhile.

NIST SP 800-63B §4.2.3 (AAL2): re-authenticate at least every 12 hours regardless of activity;
§7.2: a session is never extended by the session secret alone.
"""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db

SETTINGS_PAGE = "/account/settings/"


@pytest.fixture(autouse=True)
def _policy_for_critical_projects_only(settings):
    # The user owns no critical project, so the password alone completes the login.
    settings.TWO_FACTOR_POLICY = "critical"


def test_a_session_ends_twelve_hours_after_login_however_it_was_used(user, password):
    client = Client()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        response = client.post("/account/login/", {"username": user.username, "password": password})
        assert response.status_code == 302
        clock.shift(timedelta(hours=11))
        # Activity that rewrites the session (a re-authentication) must not move the deadline.
        reauth = client.post("/account/reauthenticate/", {"password": password})
        assert reauth.status_code == 302
        assert client.get(SETTINGS_PAGE).status_code == 200
        clock.shift(timedelta(hours=1, seconds=1))

        response = client.get(SETTINGS_PAGE)

    assert response.status_code == 302
    assert response["Location"].startswith("/account/login/")


def test_the_session_cookie_expires_with_the_login(user, password):
    client = Client()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client.post("/account/login/", {"username": user.username, "password": password})
        clock.shift(timedelta(hours=2))
        client.post("/account/reauthenticate/", {"password": password})

        cookie = client.cookies["sessionid"]

    assert int(cookie["max-age"]) == int(timedelta(hours=10).total_seconds())

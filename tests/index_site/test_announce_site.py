"""`manage.py announce_site` (run by `make run`): the address and the first admin's next step,
printed once the site answers, and a sentence saying what to do when it never does."""

from io import StringIO

import pytest
from django.core.management import call_command

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def announce(**options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("announce_site", "--exit", stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_prints_the_address_and_how_to_create_the_first_admin(live_server, settings):
    settings.SITE_URL = live_server.url
    out, err = announce()
    assert f"Gatehouse is up: open {live_server.url}/" in out
    assert "No admin yet" in out
    assert "manage.py createsuperuser" in out
    assert f"{live_server.url}/admin/" in out
    assert err == ""


def test_points_at_the_admin_once_there_is_one(live_server, settings):
    settings.SITE_URL = live_server.url
    UserFactory(is_staff=True, is_superuser=True)
    out, _ = announce()
    assert f"The admin is at {live_server.url}/admin/" in out
    assert "createsuperuser" not in out


def test_a_site_that_never_answers_is_a_sentence_saying_what_to_do(settings):
    settings.SITE_URL = "http://localhost:9"  # discard port: nothing listens
    out, err = announce(timeout=0.0)
    assert out == ""
    assert "did not answer within 0 s" in err
    assert "make run again" in err

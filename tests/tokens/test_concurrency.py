"""Token use bookkeeping never waits on a row lock (PostgreSQL: FOR UPDATE SKIP LOCKED)."""

import threading

import pytest
from django.db import connection, connections, transaction

from tests.factories import TwoFactorUserFactory
from tests.tokens.conftest import request_with
from tokens.authentication import authenticate_upload
from tokens.models import ApiToken
from tokens.services import create_api_token

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _require_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("Needs PostgreSQL: set DATABASE_URL=postgres://...")


def test_authentication_does_not_wait_for_a_locked_token_row():
    user = TwoFactorUserFactory()
    token, raw = create_api_token(user=user, name="busy", actor=user)
    locked = threading.Event()
    release = threading.Event()

    def hold_lock():
        try:
            with transaction.atomic():
                ApiToken.objects.select_for_update().get(pk=token.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        with connection.cursor() as cursor:
            # Were the update to wait for the lock, this turns the wait into an error.
            cursor.execute("SET lock_timeout = '2s'")
        identity = authenticate_upload(request_with(raw))
        assert identity.user == user
    finally:
        release.set()
        holder.join(timeout=30)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")
    token.refresh_from_db()
    assert token.last_used_at is None  # skipped, not waited for
    authenticate_upload(request_with(raw))
    token.refresh_from_db()
    assert token.last_used_at is not None

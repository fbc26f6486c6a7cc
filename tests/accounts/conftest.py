"""Helpers for account tests: read the emails the outbox holds, pull links out of them."""

import re

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from index_site.models import OutboxEmail

LINK_RE = re.compile(r"http://testserver(/\S+)")


def emails(template: str | None = None, recipient: str | None = None) -> list[OutboxEmail]:
    rows = OutboxEmail.objects.order_by("pk")
    if template is not None:
        rows = rows.filter(template=template)
    if recipient is not None:
        rows = rows.filter(recipient=recipient)
    return list(rows)


def link_in(email: OutboxEmail, path_prefix: str) -> str:
    """The path of the first link in the text body starting with `path_prefix`."""
    for path in LINK_RE.findall(email.body_text):
        if path.startswith(path_prefix):
            return path
    raise AssertionError(f"no {path_prefix} link in {email.body_text}")


@pytest.fixture
def csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def logged_in_client(client, user, password):
    """A client logged in through the real login page (no second factor on this user)."""
    response = client.post("/account/login/", {"username": user.username, "password": password})
    assert response.status_code == 302
    return client


@pytest.fixture
def frozen_clock():
    """Stop the clock: rate-limit windows are fixed, and a slow test must not straddle one."""
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller

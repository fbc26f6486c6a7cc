"""Helpers for account tests: read the emails the outbox holds, pull links out of them."""

import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


BREACHED = "hunter2-but-longer"


def sha1_hex(password: str) -> str:
    """SHA-1 as the range API uses it: a lookup key, not a protection."""
    return hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()


class RangeHandler(BaseHTTPRequestHandler):
    """Answers like api.pwnedpasswords.com/range/<prefix>, and records the prefixes asked."""

    requested: list[str] = []
    status = 200
    padding_suffix = "0018A45C4D1DEF81644B54AB7F969B88D65"

    def do_GET(self):
        prefix = self.path.rsplit("/", 1)[-1]
        type(self).requested.append(self.path)
        if type(self).status != 200:
            self.send_response(type(self).status)
            self.end_headers()
            return
        digest = sha1_hex(BREACHED)
        lines = [f"{type(self).padding_suffix}:0"]  # a padding line: count 0
        if digest.startswith(prefix):
            lines.append(f"{digest[5:]}:37")
        body = "\r\n".join(lines).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def range_server(settings):
    RangeHandler.requested = []
    RangeHandler.status = 200
    RangeHandler.padding_suffix = "0018A45C4D1DEF81644B54AB7F969B88D65"
    server = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.BREACHED_PASSWORDS_URL = f"http://127.0.0.1:{server.server_port}/range"
    yield RangeHandler
    server.shutdown()
    server.server_close()

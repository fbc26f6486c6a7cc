"""An issuer whose JWKS endpoint hangs, served for real over TLS on loopback (never the internet).

The issuer is a threaded HTTPS server of the test's own that publishes discovery and keys, or,
switched to hanging, accepts each request and holds it without a word until the test lets go.
Minting keeps working on cached keys, a key that is not cached fails within the timeout with a
sentence asking to retry, and a request held by the issuer holds up no other.
"""

import datetime
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.db import connections
from django.test import Client

from tests.publishing.oidc.conftest import ISSUER_KEY, KID, github_claims

HOLD_DEADLINE = 30.0  # seconds a held request waits for the test to let go, at most


def _tls_files(directory) -> tuple[str, str, str]:
    """A test CA and a leaf certificate for 127.0.0.1; return (ca, certificate, key) paths."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])

    def base(subject, key):
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )

    ca = (
        base(ca_name, ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        base(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]), leaf_key)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / "ca.pem", directory / "leaf.pem", directory / "leaf.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return tuple(str(path) for path in paths)


@dataclass
class HangingIssuer:
    url: str = ""
    keys: list[dict] = field(default_factory=list)
    is_hanging: bool = False
    held: threading.Event = field(default_factory=threading.Event)
    let_go: threading.Event = field(default_factory=threading.Event)
    requests: list[str] = field(default_factory=list)

    def sign(self, *, key=ISSUER_KEY, kid: str = KID) -> str:
        return jwt.encode(github_claims(iss=self.url), key, algorithm="RS256", headers={"kid": kid})


def _handler(issuer: HangingIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            issuer.requests.append(self.path)
            if issuer.is_hanging:
                issuer.held.set()
                issuer.let_go.wait(HOLD_DEADLINE)
                return  # closed without an answer
            if self.path.endswith("/.well-known/openid-configuration"):
                body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks"}
            elif self.path.endswith("/jwks"):
                body = {"keys": issuer.keys}
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    return Handler


@pytest.fixture
def issuer(settings, tmp_path, monkeypatch) -> Iterator[HangingIssuer]:
    """The GitHub issuer, served by a local HTTPS server; its CA trusted for outbound HTTP."""
    ca, certificate, key = _tls_files(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca)
    state = HangingIssuer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    state.url = f"https://127.0.0.1:{server.server_address[1]}/github"
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(ISSUER_KEY.public_key()))
    state.keys = [{**public, "kid": KID}]
    settings.OIDC_GITHUB_ISSUER = state.url
    settings.OIDC_JWKS_TIMEOUT = 1.0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.let_go.set()
    server.shutdown()
    server.server_close()
    thread.join()


def test_an_unknown_key_fails_within_the_timeout_while_the_issuer_hangs(
    issuer, github_publisher, mint
):
    issuer.is_hanging = True

    status, body = mint(issuer.sign())

    assert issuer.held.is_set(), "The issuer was never asked for its keys."
    assert status == 503
    (error,) = body["errors"]
    assert error == {
        "code": "service-unavailable",
        "description": f"the signing keys of {issuer.url} could not be fetched (the issuer is "
        "down or too slow to answer); try again in a minute",
    }


def test_cached_keys_keep_verifying_while_the_issuer_hangs(
    issuer, github_publisher, mint, settings
):
    assert mint(issuer.sign())[0] == 200
    issuer.is_hanging = True

    # Past the keys' max age a refresh is due; it hangs, and the cached keys are used.
    with time_machine.travel(time.time() + settings.OIDC_JWKS_MAX_AGE + 1):
        status, body = mint(issuer.sign())

    assert issuer.held.is_set(), "No refresh was tried."
    assert status == 200, body


@pytest.mark.django_db(transaction=True)
def test_a_request_held_by_the_issuer_holds_up_no_other(issuer, github_publisher, mint, settings):
    settings.OIDC_JWKS_TIMEOUT = HOLD_DEADLINE
    assert mint(issuer.sign())[0] == 200
    issuer.is_hanging = True
    rotated = rsa.generate_private_key(65537, 2048)
    held_answer: list[int] = []

    def mint_with_a_new_key() -> None:
        response = Client().post(
            "/_/oidc/mint-token",
            {"token": issuer.sign(key=rotated, kid="rotated")},
            content_type="application/json",
        )
        held_answer.append(response.status_code)
        connections.close_all()

    # Past the refresh interval, so the new key sends a refresh to the issuer.
    with time_machine.travel(time.time() + settings.OIDC_JWKS_REFRESH_INTERVAL + 1):
        held = threading.Thread(target=mint_with_a_new_key)
        held.start()
        assert issuer.held.wait(HOLD_DEADLINE), "The new key never sent a refresh to the issuer."

        # While that request waits on the issuer, a token with a cached key mints at once.
        status, body = mint(issuer.sign())
        assert status == 200, body
        assert held.is_alive()
        assert held_answer == []

        issuer.let_go.set()
        held.join()
    assert held_answer == [503]

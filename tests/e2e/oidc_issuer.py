"""A local test OIDC issuer and a test CA, for trusted-publishing end-to-end tests and the bench.

`make_certs()` builds a CA and a leaf for 127.0.0.1 with cryptography. `TestIssuer` serves, over
TLS, an OpenID discovery document and a JWKS (the app under test fetches them), and over plain
HTTP a GitHub-style `ACTIONS_ID_TOKEN_REQUEST_URL` endpoint that signs a fresh JWT for the
requested audience (what uv and `id` call inside GitHub Actions).
"""

import base64
import datetime
import hashlib
import hmac
import ipaddress
import json
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KID = "test-key-1"


@dataclass(frozen=True)
class Certificates:
    ca: Path
    cert: Path
    key: Path


def make_certs(directory: Path) -> Certificates:
    """Write a test CA and a 127.0.0.1 leaf (IP SAN: a CN alone is ignored by uv and requests)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Gatehouse Test CA")])

    def base(subject: x509.Name, key: Any) -> x509.CertificateBuilder:
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
    san = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    leaf = (
        base(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]), leaf_key)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    certs = Certificates(
        ca=directory / "ca.pem", cert=directory / "server.pem", key=directory / "server.key"
    )
    certs.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    certs.cert.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    certs.key.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certs


def github_claims(issuer: str, audience: str, **overrides: Any) -> dict[str, Any]:
    """GitHub Actions claims for acme/widget's release.yml in environment `release`."""
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "nbf": now - 5,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
        "sub": "repo:acme/widget:environment:release",
        "repository": "acme/widget",
        "repository_owner": "acme",
        "repository_owner_id": "4242",
        "ref": "refs/tags/v1.0.0",
        "job_workflow_ref": "acme/widget/.github/workflows/release.yml@refs/tags/v1.0.0",
        "workflow_ref": "acme/widget/.github/workflows/release.yml@refs/tags/v1.0.0",
        "sha": "0" * 40,
        "event_name": "push",
        "environment": "release",
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def hs256_with_public_key(claims: dict[str, Any], public_pem: bytes, kid: str = KID) -> str:
    """The key-confusion forgery: HMAC-SHA256 keyed with the issuer's public key."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    payload = b64(json.dumps(claims).encode())
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


@dataclass
class LocalIssuer:
    """The issuer (TLS, `url`) and the CI token endpoint (HTTP, `request_url`)."""

    certs: Certificates
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    request_token: str = field(default_factory=lambda: uuid.uuid4().hex)
    # Called with the requested audience; returns the JWT to hand out. Tests replace it.
    make_token: Callable[[str], str] | None = None
    url: str = ""
    request_url: str = ""
    jwks_requests: int = 0

    def __post_init__(self) -> None:
        self._servers: list[ThreadingHTTPServer] = []

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": KID})

    def default_token(self, audience: str) -> str:
        return self.sign(github_claims(self.url, audience))

    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]}

    def start(self) -> "LocalIssuer":
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
                return

            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/.well-known/openid-configuration":
                    self._json(200, {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks"})
                elif parts.path == "/jwks":
                    issuer.jwks_requests += 1
                    self._json(200, issuer.jwks())
                elif parts.path == "/idtoken":
                    expected = f"bearer {issuer.request_token}"
                    if self.headers.get("Authorization", "").lower() != expected.lower():
                        self._json(403, {"message": "bad request token"})
                        return
                    audience = parse_qs(parts.query).get("audience", [""])[0]
                    maker = issuer.make_token or issuer.default_token
                    self._json(200, {"value": maker(audience)})
                else:
                    self._json(404, {"message": "not found"})

        tls = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certs.cert, self.certs.key)
        tls.socket = context.wrap_socket(tls.socket, server_side=True)
        plain = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        for server in (tls, plain):
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self._servers.append(server)
        self.url = f"https://127.0.0.1:{tls.server_port}"
        self.request_url = f"http://127.0.0.1:{plain.server_port}/idtoken?api-version=2.0"
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def ci_env(self) -> dict[str, str]:
        """The environment GitHub Actions gives a job with `id-token: write`."""
        return {
            "GITHUB_ACTIONS": "true",
            "ACTIONS_ID_TOKEN_REQUEST_URL": self.request_url,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.request_token,
        }

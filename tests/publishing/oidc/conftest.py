"""A fake CI issuer: an RSA key, its JWKS served through a strict fake of outbound HTTP, and a
helper that signs JWTs with GitHub-shaped claims. Only outbound HTTP is faked; everything from
the mint-token view to the minted macaroon runs for real.
"""

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from projects.models import Role
from publishing.models import Provider, TrustedPublisher
from tests.factories import ProjectFactory, TwoFactorUserFactory

AUDIENCE = "gatehouse-test"
GITHUB = "https://token.actions.githubusercontent.com"
GITLAB = "https://gitlab.com"
GOOGLE = "https://accounts.google.com"
KID = "test-key-1"
# One key for the whole run: generating RSA keys is the slowest part of these tests.
ISSUER_KEY = rsa.generate_private_key(65537, 2048)


class FakeResponse:
    def __init__(self, status: int, body: Any) -> None:
        self.status_code = status
        self.ok = status < 400
        self._body = json.dumps(body).encode()

        class _Raw:
            def __init__(self, data: bytes) -> None:
                self._data = data

            def read(self, amount: int, decode_content: bool = False) -> bytes:
                return self._data[:amount]

        self.raw = _Raw(self._body)

    def iter_content(self, chunk_size: int):
        for start in range(0, len(self._body), chunk_size):
            yield self._body[start : start + chunk_size]

    def close(self) -> None:
        pass

    def raise_for_status(self) -> None:
        if not self.ok:
            raise requests.HTTPError(f"{self.status_code}")

    def json(self) -> Any:
        return json.loads(self._body)


@dataclass
class FakeWeb:
    """Outbound HTTP: answers only the URLs registered here; records every request."""

    routes: dict[str, Any] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    timeouts: list[float] = field(default_factory=list)
    down: bool = False

    def get(self, url: str, **kwargs: Any) -> FakeResponse:
        self.calls.append(url)
        assert kwargs.get("timeout"), "every outbound request needs a timeout"
        self.timeouts.append(kwargs["timeout"])
        if self.down:
            raise requests.Timeout("issuer down")
        if url not in self.routes:
            raise AssertionError(f"unexpected outbound request to {url}")
        route = self.routes[url]
        if isinstance(route, FakeResponse):
            return route
        return FakeResponse(200, route)


@dataclass
class Issuer:
    url: str
    web: FakeWeb
    key: Any = ISSUER_KEY
    kid: str = KID
    extra_keys: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.publish()

    def jwk(self, key: Any, kid: str) -> dict:
        public = key.public_key()
        algorithm = jwt.algorithms.RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else None
        data = json.loads(
            algorithm.to_jwk(public) if algorithm else jwt.algorithms.ECAlgorithm.to_jwk(public)
        )
        data["kid"] = kid
        return data

    def publish(self) -> None:
        jwks_uri = f"{self.url}/jwks"
        self.web.routes[f"{self.url}/.well-known/openid-configuration"] = {
            "issuer": self.url,
            "jwks_uri": jwks_uri,
        }
        keys = [self.jwk(self.key, self.kid)] + [self.jwk(k, kid) for k, kid in self.extra_keys]
        self.web.routes[jwks_uri] = {"keys": keys}

    def sign(
        self,
        claims: dict,
        *,
        key: Any = None,
        algorithm: str = "RS256",
        headers: dict | None = None,
    ) -> str:
        return jwt.encode(
            claims,
            key if key is not None else self.key,
            algorithm=algorithm,
            headers={"kid": self.kid, **(headers or {})},
        )


def github_claims(**overrides: Any) -> dict:
    now = int(time.time())
    claims = {
        "iss": GITHUB,
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now - 5,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
        "sub": "repo:acme/widget:environment:release",
        "repository": "acme/widget",
        "repository_owner": "acme",
        "repository_owner_id": "4242",
        "ref": "refs/tags/v1.0.0",
        "sha": "0" * 40,
        "job_workflow_ref": "acme/widget/.github/workflows/release.yml@refs/tags/v1.0.0",
        "workflow_ref": "acme/widget/.github/workflows/release.yml@refs/tags/v1.0.0",
        "event_name": "push",
        "environment": "release",
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def gitlab_claims(**overrides: Any) -> dict:
    now = int(time.time())
    claims = {
        "iss": GITLAB,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
        "sub": "project_path:acme/widget:ref_type:tag:ref:v1.0.0",
        "project_path": "acme/widget",
        "ci_config_ref_uri": "gitlab.com/acme/widget//.gitlab-ci.yml@refs/tags/v1.0.0",
        "ref_path": "refs/tags/v1.0.0",
        "sha": "1" * 40,
        "environment": "pypi",
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def google_claims(**overrides: Any) -> dict:
    now = int(time.time())
    claims = {
        "iss": GOOGLE,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "sub": "111222333",
        "email": "publisher@acme.iam.gserviceaccount.com",
        "email_verified": True,
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


@pytest.fixture(autouse=True)
def _oidc_settings(settings):
    settings.OIDC_AUDIENCE = AUDIENCE
    settings.OIDC_GITHUB_ISSUER = GITHUB
    settings.OIDC_GITLAB_ISSUER = GITLAB
    settings.OIDC_GOOGLE_ISSUER = GOOGLE
    settings.TRUSTED_PUBLISHING_ENABLED = True


@pytest.fixture
def web(monkeypatch) -> FakeWeb:
    fake = FakeWeb()
    monkeypatch.setattr("publishing.oidc.jwks.requests.get", fake.get)
    monkeypatch.setattr("publishing.github_api.requests.get", fake.get)
    return fake


@pytest.fixture
def github(web) -> Issuer:
    return Issuer(GITHUB, web)


@pytest.fixture
def gitlab(web) -> Issuer:
    return Issuer(GITLAB, web)


@pytest.fixture
def google(web) -> Issuer:
    return Issuer(GOOGLE, web)


@pytest.fixture
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def owner(db):
    return TwoFactorUserFactory()


@pytest.fixture
def project(owner):
    project = ProjectFactory(name="widget")
    Role.objects.create(project=project, user=owner, role=Role.Kind.OWNER)
    return project


def add_publisher(target, /, **config: Any) -> TrustedPublisher:
    publisher = TrustedPublisher(**config)
    publisher.save()
    publisher.projects.add(target)
    return publisher


GITHUB_CONFIG = {
    "provider": Provider.GITHUB,
    "repository_owner": "acme",
    "repository_owner_id": "4242",
    "repository_name": "widget",
    "workflow_filename": "release.yml",
    "environment": "",
}


@pytest.fixture
def github_publisher(project) -> TrustedPublisher:
    return add_publisher(project, **GITHUB_CONFIG)


@pytest.fixture
def mint(client):
    """POST a JWT to mint-token; return (status, json)."""

    def _mint(token: Any, path: str = "/_/oidc/mint-token", raw: bytes | None = None):
        body = raw if raw is not None else json.dumps({"token": token})
        response = client.post(path, data=body, content_type="application/json")
        return response.status_code, response.json()

    return _mint


def error_code(body: dict) -> str:
    assert body["message"] == "Token request failed"
    return body["errors"][0]["code"]


def error_description(body: dict) -> str:
    return body["errors"][0]["description"]

"""Trusted publishing end to end: unchanged uv and twine against Gatehouse over TLS.

A local OIDC issuer stands in for GitHub Actions (discovery, JWKS, and the
ACTIONS_ID_TOKEN_REQUEST_URL endpoint); Gatehouse runs under gunicorn with a test CA, its
GitHub issuer setting pointed at the local issuer. Follows trusted-publishing-tests.md.
"""

import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import id as oidc_id
import pytest
import requests

from projects.models import File, Project, Role
from projects.services.status import set_project_status
from publishing.models import PendingPublisher, Provider, TrustedPublisher
from tests.e2e.conftest import start_live_site, stop_live_site
from tests.e2e.oidc_issuer import LocalIssuer, github_claims, hs256_with_public_key, make_certs
from tests.factories import ProjectFactory, TwoFactorUserFactory
from tests.publishing.upload.dists import make_sdist, make_wheel
from tokens.models import ApiToken

pytestmark = pytest.mark.e2e

VENV_BIN = Path(sys.executable).parent
AUDIENCE = "gatehouse-e2e"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def issuer(certs):
    local = LocalIssuer(certs).start()
    yield local
    local.stop()


@dataclass
class TrustedPublishingSetup:
    site: Any
    issuer: LocalIssuer
    certs: Any


@pytest.fixture
def tp(live_site_factory, transactional_db, certs, issuer) -> TrustedPublishingSetup:
    issuer.make_token = None
    site = live_site_factory(
        certfile=certs.cert,
        keyfile=certs.key,
        env={
            "OIDC_AUDIENCE": AUDIENCE,
            "OIDC_GITHUB_ISSUER": issuer.url,
            # The app fetches the issuer's JWKS over TLS signed by the test CA.
            "REQUESTS_CA_BUNDLE": str(certs.ca),
            "SSL_CERT_FILE": str(certs.ca),
        },
    )
    return TrustedPublishingSetup(site=site, issuer=issuer, certs=certs)


@pytest.fixture
def owner(transactional_db):
    return TwoFactorUserFactory(username="tp-owner")


# The CI identity the fake issuer's tokens carry (github_claims).
PUBLISHER_CONFIG = {
    "provider": Provider.GITHUB,
    "repository_owner": "acme",
    "repository_owner_id": "4242",
    "repository_name": "widget",
    "workflow_filename": "release.yml",
    "environment": "release",
}


def _publisher(project: Project, **overrides) -> TrustedPublisher:
    publisher = TrustedPublisher(**{**PUBLISHER_CONFIG, **overrides})
    publisher.save()
    publisher.projects.add(project)
    return publisher


def _pending_publisher(owner, project_name: str) -> PendingPublisher:
    """`owner`'s pending publisher for `project_name`, for the CI identity of PUBLISHER_CONFIG."""
    publisher = TrustedPublisher(**PUBLISHER_CONFIG)
    publisher.save()
    return PendingPublisher.objects.create(
        **PUBLISHER_CONFIG,
        project_name=project_name,
        normalized_name=project_name,
        added_by=owner,
        publisher=publisher,
    )


@pytest.fixture
def project(owner):
    project = ProjectFactory(name="tp-widget")
    Role.objects.create(project=project, user=owner, role=Role.Kind.OWNER)
    _publisher(project)
    return project


def _wheel(tmp_path: Path, name: str, version: str) -> Path:
    dist = make_wheel(name, version)
    directory = tmp_path / f"dist-{version}"
    directory.mkdir(exist_ok=True)
    path = directory / dist.filename
    path.write_bytes(dist.content)
    return path


def _env(tmp_path: Path, certs, extra: dict[str, str]) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TWINE_", "UV_", "GITHUB_", "ACTIONS_"))
        and key not in {"SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"}
    }
    env.update(
        {
            "HOME": str(tmp_path / "home"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
            "UV_HTTP_RETRIES": "0",
            "NO_COLOR": "1",
            "SSL_CERT_FILE": str(certs.ca),
            "REQUESTS_CA_BUNDLE": str(certs.ca),
            **extra,
        }
    )
    return env


def uv_trusted_publish(tp, tmp_path, *dists: Path):
    command = [
        str(VENV_BIN / "uv"),
        "publish",
        "--trusted-publishing",
        "always",
        "--publish-url",
        f"{tp.site.url}/legacy/",
        *(str(dist) for dist in dists),
    ]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=_env(tmp_path, tp.certs, tp.issuer.ci_env()),
        timeout=120,
        check=False,
    )


def mint_token(tp, jwt_token: str, *, timeout: int = 10) -> requests.Response:
    """Exchange the CI's OIDC token for an upload token, as the publishing clients do."""
    return requests.post(
        f"{tp.site.url}/_/oidc/mint-token",
        json={"token": jwt_token},
        verify=str(tp.certs.ca),
        timeout=timeout,
    )


def twine_upload(tp, tmp_path, token: str, wheel: Path):
    """Upload `wheel` with unchanged twine, authenticating with the API token `token`."""
    env = _env(
        tmp_path,
        tp.certs,
        {
            "TWINE_USERNAME": "__token__",
            "TWINE_PASSWORD": token,
            "TWINE_REPOSITORY_URL": f"{tp.site.url}/legacy/",
        },
    )
    return subprocess.run(
        [sys.executable, "-m", "twine", "upload", "--non-interactive", str(wheel)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _said(result) -> str:
    return ANSI.sub("", " ".join((result.stdout + result.stderr).split()))


def test_unchanged_uv_publishes_with_trusted_publishing(tp, project, tmp_path):
    wheel = _wheel(tmp_path, "tp-widget", "1.0")
    result = uv_trusted_publish(tp, tmp_path, wheel)
    assert result.returncode == 0, _said(result) + tp.site.log()[-3000:]
    assert "::add-mask::" in result.stdout
    stored = File.objects.get(filename=wheel.name)
    assert stored.release.project == project
    # uv burns the minted token after publishing: no live trusted-publishing token is left.
    assert not ApiToken.objects.filter(publisher_id__isnull=False).exists()
    assert "Failed to invalidate" not in result.stderr


def test_github_action_flow_with_twine(tp, project, tmp_path, monkeypatch):
    audience = requests.get(
        f"{tp.site.url}/_/oidc/audience", verify=str(tp.certs.ca), timeout=10
    ).json()["audience"]
    assert audience == AUDIENCE
    for key, value in tp.issuer.ci_env().items():
        monkeypatch.setenv(key, value)
    jwt_token = oidc_id.detect_credential(audience)
    minted = mint_token(tp, jwt_token)
    assert minted.status_code == 200, minted.text
    body = minted.json()
    assert body["success"] is True
    assert body["expires"] > time.time() + 800
    wheel = _wheel(tmp_path, "tp-widget", "2.0")
    result = twine_upload(tp, tmp_path, body["token"], wheel)
    assert result.returncode == 0, _said(result) + tp.site.log()[-3000:]
    assert File.objects.filter(filename=wheel.name, release__project=project).exists()


def test_first_trusted_publish_creates_the_project_of_a_pending_publisher(tp, owner, tmp_path):
    _pending_publisher(owner, "fresh-widget")
    wheel = _wheel(tmp_path, "fresh-widget", "0.1")
    result = uv_trusted_publish(tp, tmp_path, wheel)
    assert result.returncode == 0, _said(result) + tp.site.log()[-3000:]
    project = Project.objects.get(normalized_name="fresh-widget")
    assert Role.objects.get(project=project).user == owner
    assert not PendingPublisher.objects.exists()
    assert File.objects.filter(filename=wheel.name).exists()


def test_pending_publisher_first_release_publishes_sdist_and_wheel_with_one_token(
    tp, owner, tmp_path
):
    _pending_publisher(owner, "fresh-widget")
    wheel = _wheel(tmp_path, "fresh-widget", "0.1")
    sdist_dist = make_sdist("fresh-widget", "0.1")
    sdist = wheel.parent / sdist_dist.filename
    sdist.write_bytes(sdist_dist.content)

    # uv mints one token and uploads both files with it.
    result = uv_trusted_publish(tp, tmp_path, sdist, wheel)

    assert result.returncode == 0, _said(result) + tp.site.log()[-3000:]
    project = Project.objects.get(normalized_name="fresh-widget")
    assert set(
        File.objects.filter(release__project=project).values_list("filename", flat=True)
    ) == {
        sdist.name,
        wheel.name,
    }


def _refused(tp, tmp_path, version: str) -> str:
    wheel = _wheel(tmp_path, "tp-widget", version)
    result = uv_trusted_publish(tp, tmp_path, wheel)
    said = _said(result)
    assert result.returncode == 2, said
    assert "Failed to obtain token for trusted publishing" in said
    assert "422 Unprocessable Entity" in said
    assert not File.objects.filter(filename=wheel.name).exists()
    return said


def test_replayed_jwt_is_refused_as_uv_prints_it(tp, project, tmp_path):
    fixed = {}

    def same_token(audience: str) -> str:
        fixed.setdefault(audience, tp.issuer.sign(github_claims(tp.issuer.url, audience)))
        return fixed[audience]

    tp.issuer.make_token = same_token
    first = uv_trusted_publish(tp, tmp_path, _wheel(tmp_path, "tp-widget", "3.0"))
    assert first.returncode == 0, _said(first)
    said = _refused(tp, tmp_path, "3.1")
    assert '"code": "invalid-reuse-token"' in said


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {
                "repository": "acme/other",
                "job_workflow_ref": "acme/other/.github/workflows/release.yml@refs/tags/v1.0.0",
            },
            "no trusted publisher is configured for repository 'acme/other'",
        ),
        (
            {"job_workflow_ref": "acme/widget/.github/workflows/ci.yml@refs/tags/v1.0.0"},
            "but the publisher expects the workflow 'acme/widget/.github/workflows/release.yml'",
        ),
        (
            {"environment": "staging"},
            "claim 'environment' is 'staging' but the publisher expects 'release'",
        ),
    ],
    ids=["another-repository", "another-workflow", "another-environment"],
)
def test_claims_of_another_ci_identity_are_refused_as_uv_prints_it(
    tp, project, tmp_path, overrides, expected
):
    tp.issuer.make_token = lambda audience: tp.issuer.sign(
        github_claims(tp.issuer.url, audience, **overrides)
    )
    said = _refused(tp, tmp_path, "4.0")
    assert '"code": "invalid-publisher"' in said
    assert expected in said


SHARED_WORKFLOW = "acme-org/shared/.github/workflows/pypi.yml"
# acme/widget's release.yml, run for tag v1.0.0, calls the organisation's shared workflow.
REUSABLE_PUBLISHER = {
    "workflow_filename": "",
    "reusable_workflow_repository": "acme-org/shared",
    "reusable_workflow_path": ".github/workflows/pypi.yml",
    "reusable_workflow_ref": "refs/tags/v2*",
}


@pytest.fixture
def shared_project(owner):
    """A project whose only publisher is acme/widget calling the shared release workflow."""
    project = ProjectFactory(name="tp-shared")
    Role.objects.create(project=project, user=owner, role=Role.Kind.OWNER)
    _publisher(project, **REUSABLE_PUBLISHER, ref_type="tag", ref_pattern="v*")
    return project


def test_unchanged_uv_publishes_from_a_reusable_workflow_of_another_repository(
    tp, shared_project, tmp_path
):
    tp.issuer.make_token = lambda audience: tp.issuer.sign(
        github_claims(tp.issuer.url, audience, job_workflow_ref=f"{SHARED_WORKFLOW}@refs/tags/v2.1")
    )
    wheel = _wheel(tmp_path, "tp-shared", "1.0")
    result = uv_trusted_publish(tp, tmp_path, wheel)
    assert result.returncode == 0, _said(result) + tp.site.log()[-3000:]
    assert File.objects.get(filename=wheel.name).release.project == shared_project


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"job_workflow_ref": f"{SHARED_WORKFLOW}@refs/heads/main"},
            (
                "claim 'job_workflow_ref' names the reusable workflow at 'refs/heads/main' but the "
                "publisher requires a ref matching 'refs/tags/v2*'"
            ),
        ),
        (
            {"job_workflow_ref": "evil-org/shared/.github/workflows/pypi.yml@refs/tags/v2"},
            (
                "but the publisher expects the reusable workflow "
                "'acme-org/shared/.github/workflows/pypi.yml'"
            ),
        ),
        (
            {
                "ref": "refs/heads/main",
                "workflow_ref": "acme/widget/.github/workflows/release.yml@refs/heads/main",
                "job_workflow_ref": f"{SHARED_WORKFLOW}@refs/tags/v2",
            },
            (
                "the workflow ran for branch 'main' (claim 'ref' is 'refs/heads/main') but the "
                "publisher requires a tag matching 'v*'"
            ),
        ),
    ],
    ids=["reusable-workflow-ref", "another-reusable-workflow", "branch-not-tag"],
)
def test_reusable_workflow_and_ref_refusals_as_uv_prints_them(
    tp, shared_project, tmp_path, overrides, expected
):
    tp.issuer.make_token = lambda audience: tp.issuer.sign(
        github_claims(tp.issuer.url, audience, **overrides)
    )
    wheel = _wheel(tmp_path, "tp-shared", "2.0")
    result = uv_trusted_publish(tp, tmp_path, wheel)
    said = _said(result)
    assert result.returncode == 2, said
    assert "Failed to obtain token for trusted publishing" in said
    assert '"code": "invalid-publisher"' in said
    assert expected in said
    assert not File.objects.filter(filename=wheel.name).exists()


def test_expired_jwt_is_refused_as_uv_prints_it(tp, project, tmp_path):
    now = int(time.time())
    tp.issuer.make_token = lambda audience: tp.issuer.sign(
        github_claims(tp.issuer.url, audience, iat=now - 900, nbf=now - 900, exp=now - 300)
    )
    said = _refused(tp, tmp_path, "5.0")
    assert '"code": "invalid-token"' in said


def test_unknown_issuer_is_refused_as_uv_prints_it(tp, project, tmp_path):
    tp.issuer.make_token = lambda audience: tp.issuer.sign(
        github_claims("https://token.actions.evil.example", audience)
    )
    said = _refused(tp, tmp_path, "6.0")
    assert '"code": "invalid-payload"' in said
    assert "unknown trusted publishing issuer" in said


def test_hs256_signed_with_the_public_key_is_refused_as_uv_prints_it(tp, project, tmp_path):
    tp.issuer.make_token = lambda audience: hs256_with_public_key(
        github_claims(tp.issuer.url, audience), tp.issuer.public_pem()
    )
    said = _refused(tp, tmp_path, "7.0")
    assert '"code": "invalid-token"' in said


def test_oidc_token_cannot_create_a_project_without_a_pending_publisher(tp, project, tmp_path):
    wheel = _wheel(tmp_path, "not-registered", "1.0")
    result = uv_trusted_publish(tp, tmp_path, wheel)
    said = _said(result)
    assert result.returncode == 2, said
    assert "Non-user identities cannot create new projects" in said
    assert not Project.objects.filter(normalized_name="not-registered").exists()


def test_removed_publisher_cannot_upload_with_a_token_minted_before(tp, project, owner, tmp_path):
    from publishing.services import remove_publisher_from_project  # noqa: PLC0415

    jwt_token = tp.issuer.sign(github_claims(tp.issuer.url, AUDIENCE))
    minted = mint_token(tp, jwt_token).json()
    remove_publisher_from_project(
        project=project, publisher=TrustedPublisher.objects.get(), actor=owner
    )
    wheel = _wheel(tmp_path, "tp-widget", "8.0")
    result = twine_upload(tp, tmp_path, minted["token"], wheel)
    assert result.returncode == 1, _said(result)
    assert "403" in _said(result)
    assert not File.objects.filter(filename=wheel.name).exists()


def test_concurrent_replays_of_one_jwt_mint_exactly_once(tp, project):
    jwt_token = tp.issuer.sign(github_claims(tp.issuer.url, AUDIENCE))

    def post(_: int) -> requests.Response:
        return mint_token(tp, jwt_token, timeout=30)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(post, range(8)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [422] * 7, [r.text for r in responses]
    refused = [r.json()["errors"][0]["code"] for r in responses if r.status_code == 422]
    assert set(refused) == {"invalid-reuse-token"}
    assert ApiToken.objects.filter(publisher_id__isnull=False).count() == 1


def test_a_jwt_minted_on_one_replica_is_refused_on_the_other(tp, project, tmp_path):
    """Used JWT ids live in the shared database, so a second replica knows the first's."""
    other = start_live_site(
        tmp_path / "replica",
        certfile=tp.certs.cert,
        keyfile=tp.certs.key,
        env={
            key: tp.site.env[key]
            for key in (
                "OIDC_AUDIENCE",
                "OIDC_GITHUB_ISSUER",
                "REQUESTS_CA_BUNDLE",
                "SSL_CERT_FILE",
            )
        },
    )
    try:
        jwt_token = tp.issuer.sign(github_claims(tp.issuer.url, AUDIENCE))
        first = mint_token(tp, jwt_token)
        replayed = requests.post(
            f"{other.url}/_/oidc/mint-token",
            json={"token": jwt_token},
            verify=str(tp.certs.ca),
            timeout=10,
        )
    finally:
        stop_live_site(other)

    assert first.status_code == 200, first.text
    assert replayed.status_code == 422
    assert replayed.json()["errors"][0]["code"] == "invalid-reuse-token"


def test_archived_project_refuses_trusted_publishing_as_uv_prints_it(tp, project, owner, tmp_path):
    set_project_status(project=project, status="archived", actor=owner)
    wheel = _wheel(tmp_path, "tp-widget", "9.0")

    result = uv_trusted_publish(tp, tmp_path, wheel)

    said = _said(result)
    assert result.returncode != 0
    assert "Server says: 403 Project 'tp-widget' is archived; unarchive it to upload." in said
    assert not File.objects.filter(filename=wheel.name).exists()

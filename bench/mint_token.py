"""Mint-token latency with a warm key cache, against a live gunicorn server over TLS.

Run: `.venv/bin/python -m bench.mint_token` (or `python -m bench mint_token`). Needs PostgreSQL:
DATABASE_URL names the server (default postgres://postgres@127.0.0.1:5432/postgres); the
benchmark creates its own database, `gatehouse_bench_mint`, and drops it at the end.

A local OIDC issuer (tests/e2e/oidc_issuer.py) plays GitHub Actions; gunicorn serves the app
with a test CA. After a warm-up (every worker has fetched and cached the issuer's JWKS), each
timed request posts a fresh, pre-signed JWT to POST /_/oidc/mint-token: issuer lookup, RS256
verification, publisher match, the jti claim row, and the minted macaroon with its events.
"""

import os
import statistics
import time
import uuid
from pathlib import Path
from tempfile import TemporaryDirectory

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "index_site.settings")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("SITE_URL", "http://testserver")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ["CACHE_URL"] = "locmemcache://"
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"

import django

django.setup()

import requests  # noqa: E402
from django.db import connection  # noqa: E402

from bench import Measurement  # noqa: E402

BENCH_DATABASE = "gatehouse_bench_mint"
AUDIENCE = "gatehouse-bench"
WARMUP = 40
REQUESTS = 300
TIME_BUDGET_SECONDS = 120.0
# A CI run calls mint-token once per publish, so the targets guard against regressions (a key
# fetch per request, queries growing with the number of publishers) rather than chase
# microseconds: each request is a fresh TLS handshake (gunicorn sync workers do not keep
# connections alive) plus about ten queries.
MEDIAN_LIMIT_MS = 150.0
P95_LIMIT_MS = 300.0


def _setup_publisher() -> None:
    from accounts.models import Email, User  # noqa: PLC0415 - after setup
    from projects.models import Project, Role  # noqa: PLC0415 - after setup
    from publishing.models import Provider, TrustedPublisher  # noqa: PLC0415 - after setup

    user = User.objects.create_user(username="bench", password=None)
    Email.objects.create(user=user, email="bench@example.com", is_primary=True, is_verified=True)
    project = Project.objects.create(name="bench-widget", normalized_name="bench-widget")
    Role.objects.create(project=project, user=user, role=Role.Kind.OWNER)
    publisher = TrustedPublisher(
        provider=Provider.GITHUB,
        repository_owner="acme",
        repository_owner_id="4242",
        repository_name="widget",
        workflow_filename="release.yml",
        environment="release",
    )
    publisher.save()
    publisher.projects.add(project)


def _run(directory: Path) -> tuple[list[float], int]:
    from tests.e2e.conftest import start_live_site, stop_live_site  # noqa: PLC0415
    from tests.e2e.oidc_issuer import (  # noqa: PLC0415 - test helpers, after setup
        LocalIssuer,
        github_claims,
        make_certs,
    )

    certs = make_certs(directory / "tls")
    issuer = LocalIssuer(certs).start()
    site = start_live_site(
        directory / "site",
        certfile=certs.cert,
        keyfile=certs.key,
        env={
            "OIDC_AUDIENCE": AUDIENCE,
            "OIDC_GITHUB_ISSUER": issuer.url,
            "OIDC_MINT_RATE_LIMIT": "100000/m",
            "REQUESTS_CA_BUNDLE": str(certs.ca),
            "LOG_LEVEL": "WARNING",
        },
    )
    try:
        # Signed up front: the client's signing time is not the server's latency.
        tokens = [
            issuer.sign(
                github_claims(
                    issuer.url, AUDIENCE, jti=str(uuid.uuid4()), exp=int(time.time()) + 900
                )
            )
            for _ in range(WARMUP + REQUESTS)
        ]
        session = requests.Session()
        # Per request: a session-level `verify` loses to REQUESTS_CA_BUNDLE in the environment.
        ca = str(certs.ca)
        url = f"{site.url}/_/oidc/mint-token"
        for token in tokens[:WARMUP]:
            response = session.post(url, json={"token": token}, timeout=30, verify=ca)
            response.raise_for_status()
        jwks_fetches = issuer.jwks_requests
        timings = []
        deadline = time.monotonic() + TIME_BUDGET_SECONDS
        for token in tokens[WARMUP:]:
            started = time.perf_counter()
            response = session.post(url, json={"token": token}, timeout=30, verify=ca)
            timings.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"mint-token answered {response.status_code}: {response.text}")
            if time.monotonic() > deadline:
                break
        if issuer.jwks_requests != jwks_fetches:
            raise RuntimeError("the key cache was not warm: JWKS fetched during the timed run")
        return timings, jwks_fetches
    finally:
        stop_live_site(site)
        issuer.stop()


def main() -> list[Measurement]:
    connection.settings_dict["TEST"] = {
        **connection.settings_dict.get("TEST", {}),
        "NAME": BENCH_DATABASE,
    }
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        _setup_publisher()
        connection.close()
        with TemporaryDirectory(prefix="bench-mint-") as directory:
            timings, fetches = _run(Path(directory))
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    median_ms = statistics.median(timings) * 1000
    p95_ms = statistics.quantiles(timings, n=20)[18] * 1000
    print(
        f"mint-token over TLS, warm key cache ({fetches} JWKS fetches during warm-up, none "
        f"timed): median {median_ms:.2f} ms, p95 {p95_ms:.2f} ms over {len(timings)} requests",
        flush=True,
    )
    return [
        Measurement(name="mint-token median", value=median_ms, limit=MEDIAN_LIMIT_MS, unit="ms"),
        Measurement(name="mint-token p95", value=p95_ms, limit=P95_LIMIT_MS, unit="ms"),
    ]


if __name__ == "__main__":
    for measurement in main():
        print(measurement.describe())

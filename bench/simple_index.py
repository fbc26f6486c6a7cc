"""The install path: a 1,000-file project's simple page and JSON API document against a constant
page, side by side.

    .venv/bin/python -m bench simple_index

Two servers under the same gunicorn (3 sync workers each, gunicorn.conf.py, same access log):
- Gatehouse on PostgreSQL (database `gh_bench_simple` or BENCH_SIMPLE_DATABASE, recreated each
  run) with the shared
  cache in Redis (REDIS_URL, default redis://127.0.0.1:6379/0), as in production;
- a WSGI app that answers with the very bytes Gatehouse served (bench/_constant_page.py): the
  rate a server reaches that has nothing to look up.

Workloads, each by 8 concurrent clients (processes, one connection per request as gunicorn's
sync worker closes it): the HTML page, the JSON page, a conditional request that ends in 304,
and the JSON API's `/pypi/<name>/json` (every release's files under `releases`). Each runs
ROUNDS times alternating between the servers; the best round's rate counts (load elsewhere on
the machine only ever takes requests away). Targets, as ratios to the constant page's rate for
the same format: HTML, JSON and the JSON API at least 0.5x, 304 at least 0.8x of the constant
HTML page; and for Gatehouse p99 latency at most 3x p50. The clients share the machine's cores
with the servers, so both rates include the clients' own cost.
"""

import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench import Measurement
from bench.upload import REPO_ROOT, gunicorn, server_env

# On a machine several people share, each names their own (it is dropped at the start).
BENCH_DATABASE = os.environ.get("BENCH_SIMPLE_DATABASE", "gh_bench_simple")
PROJECT = "bench-pkg"
PATH = f"/simple/{PROJECT}/"
API_PATH = f"/pypi/{PROJECT}/json"
RELEASES = 100
FILES_PER_RELEASE = 10
WORKERS = 3
CLIENTS = 8
ROUND_SECONDS = 4.0
WARMUP_SECONDS = 0.5
ROUNDS = 3
JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"
HTML_ACCEPT = "text/html"
API_ACCEPT = "application/json"
# What an upload stores for each release (the JSON API's `info` reads it).
RELEASE_METADATA = {
    "metadata_version": "2.4",
    "name": "bench-pkg",
    "summary": "A benchmark package.",
    "description": "A paragraph of description. " * 80,
    "requires_dist": ["requests>=2"],
}
ARCHES = ("manylinux_2_17_x86_64", "macosx_11_0_arm64")
TAGS = [f"cp3{minor}-cp3{minor}-{arch}" for minor in range(8, 13) for arch in ARCHES]

PREPARE_SCRIPT = f"""
import hashlib
import django
django.setup()
from django.core.management import call_command
from django.db import transaction
call_command("migrate", verbosity=0)
from accounts.models import User
from projects.models import File, FilenameRegistry, Release
from projects.services.files import storage_path_for
from projects.services.projects import bump_serial, create_project
user = User.objects.create_user(username="bench", password="bench-password-not-secret")
with transaction.atomic():
    project = create_project(name={PROJECT!r}, creator=user)
    releases = Release.objects.bulk_create(
        Release(project=project, version=f"1.{{n}}.0", canonical_version=f"1.{{n}}",
                requires_python=">=3.8", metadata={RELEASE_METADATA!r})
        for n in range({RELEASES})
    )
    files = []
    for release in releases:
        for tag in {TAGS!r}:
            filename = f"bench_pkg-{{release.version}}-{{tag}}.whl"
            blake2 = hashlib.blake2b(filename.encode(), digest_size=32).hexdigest()
            files.append(File(
                release=release, filename=filename, packagetype="bdist_wheel",
                python_version=tag.split("-")[0], size=123456,
                md5_digest=hashlib.md5(filename.encode()).hexdigest(),
                sha256_digest=hashlib.sha256(filename.encode()).hexdigest(),
                blake2_256_digest=blake2,
                path=storage_path_for(blake2_256_digest=blake2, filename=filename),
                metadata_sha256_digest=hashlib.sha256(b"m" + filename.encode()).hexdigest(),
            ))
    File.objects.bulk_create(files)
    FilenameRegistry.objects.bulk_create(FilenameRegistry(filename=f.filename) for f in files)
    bump_serial(project=project)
print(len(files))
"""


def _database_urls() -> tuple[str, str]:
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        base = "postgres://postgres@127.0.0.1:5432/postgres"
    parts = urlsplit(base)
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
    bench = urlunsplit((parts.scheme, parts.netloc, f"/{BENCH_DATABASE}", "", ""))
    return admin, bench


def _recreate_database(admin_url: str) -> None:
    import psycopg  # noqa: PLC0415 - the app's own driver

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')


def _gatehouse_env(workdir: Path) -> dict[str, str]:
    admin_url, bench_url = _database_urls()
    _recreate_database(admin_url)
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    env = server_env(
        workdir,
        bench_url,
        REDIS_URL=redis_url,
        CACHE_URL=redis_url.replace("redis://", "rediscache://", 1),
    )
    result = subprocess.run(
        [sys.executable, "-c", PREPARE_SCRIPT],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"Preparing the Gatehouse database failed:\n{result.stderr}")
    return env


# --- the clients ---------------------------------------------------------------------------


def _request_bytes(port: int, accept: str, etag: str | None, path: str = PATH) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Accept: {accept}"]
    if etag:
        lines.append(f"If-None-Match: {etag}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _fetch(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(262144):
            chunks.append(chunk)
    return b"".join(chunks)


def _client(args: tuple[int, bytes, int, float, float]) -> list[float]:
    """Send requests until `stop_at`; return the latencies of those sent after `start_at`."""
    port, request, status, start_at, stop_at = args
    expected = f"HTTP/1.1 {status} ".encode()
    latencies = []
    while (started := time.monotonic()) < stop_at:
        response = _fetch(port, request)
        if not response.startswith(expected):
            raise RuntimeError(f"Unexpected answer: {response[:200]!r}")
        if started >= start_at:
            latencies.append(time.monotonic() - started)
    return latencies


def _load(pool, port: int, request: bytes, status: int) -> tuple[float, float, float]:
    """(requests/s, p50 s, p99 s) of CLIENTS clients for ROUND_SECONDS."""
    start_at = time.monotonic() + WARMUP_SECONDS
    stop_at = start_at + ROUND_SECONDS
    results = pool.map(_client, [(port, request, status, start_at, stop_at)] * CLIENTS)
    latencies = sorted(latency for result in results for latency in result)
    if not latencies:
        raise RuntimeError("No request finished within the round.")
    rate = len(latencies) / ROUND_SECONDS
    return rate, latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]


def _headers(response: bytes) -> dict[str, str]:
    head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    return {name.lower(): value.strip() for name, _, value in (h.partition(":") for h in head)}


def main() -> list[Measurement]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-simple-"))
    try:
        return _report(_run(workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(workdir: Path) -> dict[tuple[str, str], tuple[float, float, float]]:
    env = _gatehouse_env(workdir)
    with gunicorn(
        "index_site.wsgi:application", env, workdir / "gatehouse.log", PATH, workers=WORKERS
    ) as port:
        pages = {}
        documents = (
            ("html", HTML_ACCEPT, PATH),
            ("json", JSON_ACCEPT, PATH),
            ("api", API_ACCEPT, API_PATH),
        )
        for kind, accept, path in documents:
            response = _fetch(port, _request_bytes(port, accept, None, path))
            pages[kind] = response
            body = response.split(b"\r\n\r\n", 1)[1]
            (workdir / kind).write_bytes(body)
            print(f"{kind} page: {len(body) / 1000:.0f} kB, {body.count(b'.whl') // 2} files")
        etag = _headers(pages["html"])["etag"]
        constant_env = {**os.environ, "CONSTANT_PAGE_DIR": str(workdir)}
        with (
            gunicorn(
                "bench._constant_page:application",
                constant_env,
                workdir / "c.log",
                "/",
                workers=WORKERS,
            ) as constant_port,
            multiprocessing.get_context("fork").Pool(CLIENTS) as pool,
        ):
            workloads = {
                "HTML": (HTML_ACCEPT, None, 200, PATH),
                "JSON": (JSON_ACCEPT, None, 200, PATH),
                "304": (HTML_ACCEPT, "ETAG", 304, PATH),
                "API": (API_ACCEPT, None, 200, API_PATH),
            }
            best: dict[tuple[str, str], tuple[float, float, float]] = {}
            for round_number in range(ROUNDS):
                for label, (accept, conditional, status, path) in workloads.items():
                    for server, server_port, tag in (
                        ("gatehouse", port, etag),
                        ("constant", constant_port, '"constant"'),
                    ):
                        request = _request_bytes(server_port, accept, conditional and tag, path)
                        result = _load(pool, server_port, request, status)
                        print(
                            f"round {round_number + 1} {server:9} {label:4}: {result[0]:7.0f}/s"
                            f"  p50 {result[1] * 1000:6.2f} ms  p99 {result[2] * 1000:6.2f} ms",
                            flush=True,
                        )
                        if (server, label) not in best or result[0] > best[server, label][0]:
                            best[server, label] = result
    return best


def _report(best: dict[tuple[str, str], tuple[float, float, float]]) -> list[Measurement]:
    measurements = []
    targets = (
        ("HTML", "HTML", 0.5),
        ("JSON", "JSON", 0.5),
        ("304", "HTML", 0.8),
        ("API", "API", 0.5),
    )
    for label, reference, target in targets:
        name = "JSON API document" if label == "API" else f"simple page {label}"
        rate, p50, p99 = best["gatehouse", label]
        constant = best["constant", reference][0]
        print(
            f"{label}: Gatehouse {rate:.0f}/s, constant {reference} page {constant:.0f}/s "
            f"(constant 304: {best['constant', '304'][0]:.0f}/s); p50 {p50 * 1000:.2f} ms, "
            f"p99 {p99 * 1000:.2f} ms"
        )
        measurements.append(
            Measurement(
                f"{name} rate / constant {reference} page",
                rate / constant,
                target,
                "x",
                higher_is_better=True,
            )
        )
        measurements.append(Measurement(f"{name} p99 / p50", p99 / p50, 3.0, "x"))
    return measurements

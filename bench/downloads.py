"""Downloads that never hold a web worker: simple-page latency while 100 MB files go out.

    .venv/bin/python -m bench downloads

Gatehouse under gunicorn with 3 sync workers on PostgreSQL (database `gh_bench_downloads`,
recreated each run), one project with one 100 MB wheel in the filesystem storage. Two modes,
each on a server of its own, run one after the other:
- `FILE_DOWNLOADS=app`, clients talking to gunicorn: the worker streams the file;
- `FILE_DOWNLOADS=x-accel-redirect` behind nginx (the docker-compose front, deploy/nginx.conf,
  generated here for loopback): the app checks and counts, nginx sends the file.
In each mode one client fetches the project's simple page over and over, first with nothing
else going on (idle), then while DOWNLOADS clients download the 100 MB file, each reading at
DOWNLOAD_RATE (a CI runner on a slow link): p50 and p95 of the page's latency, and every
download must arrive whole. The reference is the same server idle, in the same run; target
(issue 15 §2): with the downloads in progress the page's p95 stays within 1.5x of idle in the
x-accel-redirect mode. The app mode has no target: it shows what the proxy saves.
"""

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from bench import Measurement
from bench.simple_index import _fetch
from bench.upload import (
    REPO_ROOT,
    _database_urls,
    _free_port,
    _recreate_database,
    _stop,
    _wait_http,
    gunicorn,
    server_env,
)

BENCH_DATABASE = "gh_bench_downloads"
PROJECT = "bench-download"
PAGE = f"/simple/{PROJECT}/"
FILE_SIZE = 100 * 1000 * 1000
WORKERS = 3
DOWNLOADS = 6
DOWNLOAD_RATE = 10 * 1000 * 1000  # bytes per second per download
CHUNK = 256 * 1024
WARMUP_SECONDS = 2.0
IDLE_SECONDS = 4.0
LOADED_SECONDS = 5.0
# The loaded window starts once every download is under way.
LOADED_DELAY = 1.0
PAGE_TIMEOUT = 60.0
INTERNAL_PREFIX = "/_protected-files/"

PREPARE_SCRIPT = f"""
import hashlib, os
import django
django.setup()
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import transaction
call_command("migrate", verbosity=0)
from accounts.models import User
from projects.models import File, FilenameRegistry, Release
from projects.services.files import storage_path_for
from projects.services.projects import bump_serial, create_project
payload = open(os.environ["BENCH_FILE"], "rb").read()
user = User.objects.create_user(username="bench", password="bench-password-not-secret")
filename = "bench_download-1.0-py3-none-any.whl"
blake2 = hashlib.blake2b(payload, digest_size=32).hexdigest()
path = storage_path_for(blake2_256_digest=blake2, filename=filename)
default_storage.save(path, ContentFile(payload))
with transaction.atomic():
    project = create_project(name={PROJECT!r}, creator=user)
    release = Release.objects.create(project=project, version="1.0", canonical_version="1")
    File.objects.create(
        release=release, filename=filename, packagetype="bdist_wheel", python_version="py3",
        size=len(payload), md5_digest=hashlib.md5(payload).hexdigest(),
        sha256_digest=hashlib.sha256(payload).hexdigest(), blake2_256_digest=blake2, path=path,
    )
    FilenameRegistry.objects.create(filename=filename)
    bump_serial(project=project)
print(path)
"""

NGINX_CONF = """
daemon off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {work}/nginx-tmp/body;
    proxy_temp_path {work}/nginx-tmp/proxy;
    fastcgi_temp_path {work}/nginx-tmp/fastcgi;
    uwsgi_temp_path {work}/nginx-tmp/uwsgi;
    scgi_temp_path {work}/nginx-tmp/scgi;
    sendfile on;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Host $http_host;
        }}
        location {prefix} {{
            internal;
            alias {media}/;
        }}
    }}
}}
"""


def _nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx",) if Path(path).exists()), None
    )
    if found is None:
        raise RuntimeError(
            "The x-accel-redirect mode needs nginx, which is not installed: "
            "apt-get install nginx-light (or nginx), then run the benchmark again."
        )
    return found


def _gatehouse(workdir: Path, mode: str):
    """gunicorn serving the prepared database with FILE_DOWNLOADS=mode; yields its port."""
    env = _env(workdir) | {"FILE_DOWNLOADS": mode}
    log = workdir / f"gunicorn-{mode}.log"
    return gunicorn(
        "index_site.wsgi:application",
        env,
        log,
        "/_/health",
        workers=WORKERS,
        extra=("--timeout", "300"),
    )


@contextmanager
def _nginx(workdir: Path, upstream: int):
    """nginx in front of `upstream`, sending X-Accel-Redirect files from MEDIA_ROOT."""
    binary = _nginx_binary()
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (workdir / "nginx-tmp" / name).mkdir(parents=True, exist_ok=True)
        (workdir / "nginx-tmp" / name).chmod(0o777)
    port = _free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            work=workdir,
            port=port,
            upstream=upstream,
            prefix=INTERNAL_PREFIX,
            media=workdir / "media",
        )
    )
    log = workdir / "nginx.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [binary, "-c", str(conf), "-p", str(workdir)], stdout=output, stderr=subprocess.STDOUT
        )
    try:
        _wait_http(f"http://127.0.0.1:{port}/_/health", process, log)
        yield port
    finally:
        _stop(process)


def _env(workdir: Path) -> dict[str, str]:
    _admin, bench_url = _database_urls(BENCH_DATABASE)
    return server_env(workdir, bench_url, FILE_DOWNLOADS_INTERNAL_PREFIX=INTERNAL_PREFIX)


def _prepare(workdir: Path) -> tuple[str, str]:
    """Create the database, the project and its stored file; return (URL path, sha256)."""
    admin_url, _bench_url = _database_urls(BENCH_DATABASE)
    _recreate_database(admin_url, BENCH_DATABASE)
    payload = workdir / "payload.whl"
    payload.write_bytes(os.urandom(FILE_SIZE))
    result = subprocess.run(
        [sys.executable, "-c", PREPARE_SCRIPT],
        cwd=REPO_ROOT,
        env=_env(workdir) | {"BENCH_FILE": str(payload)},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"Preparing the Gatehouse database failed:\n{result.stderr}")
    digest = hashlib.sha256(payload.read_bytes()).hexdigest()
    payload.unlink()
    return f"/files/{result.stdout.strip().splitlines()[-1]}", digest


class SlowDownload(threading.Thread):
    """Download `path` at DOWNLOAD_RATE and check the body's sha256."""

    def __init__(self, port: int, path: str, sha256: str) -> None:
        super().__init__(daemon=True)
        self.port, self.path, self.sha256 = port, path, sha256
        self.error: str | None = None
        self.started_body = threading.Event()

    def run(self) -> None:
        try:
            self._download()
        except OSError as exc:
            self.error = repr(exc)
        finally:
            self.started_body.set()

    def _download(self) -> None:
        request = (
            f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nConnection: close\r\n\r\n"
        ).encode()
        digest = hashlib.sha256()
        with socket.create_connection(("127.0.0.1", self.port), timeout=300) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CHUNK)
            sock.sendall(request)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(CHUNK)
                if not chunk:
                    break
                head += chunk
            head, _, received = head.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200 "):
                self.error = f"download answered {head.splitlines()[0]!r}"
                return
            digest.update(received)
            total = len(received)
            self.started_body.set()
            started = time.monotonic()
            while chunk := sock.recv(CHUNK):
                digest.update(chunk)
                total += len(chunk)
                # Read no faster than DOWNLOAD_RATE: the server's side of the connection stays
                # busy for the whole transfer, as it does for a client on a slow link.
                ahead = total / DOWNLOAD_RATE - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        if total != FILE_SIZE or digest.hexdigest() != self.sha256:
            self.error = f"download arrived with {total} bytes, not the file's {FILE_SIZE}"


def _page_latencies(port: int, seconds: float) -> list[float]:
    """Fetch the simple page one request after another for `seconds`; their latencies."""
    request = (
        f"GET {PAGE} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    ).encode()
    latencies = []
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at or not latencies:
        started = time.monotonic()
        response = _fetch(port, request)
        if not response.startswith(b"HTTP/1.1 200 "):
            raise RuntimeError(f"Unexpected answer to the page: {response[:200]!r}")
        latencies.append(time.monotonic() - started)
        if time.monotonic() - started > PAGE_TIMEOUT:
            break
    return sorted(latencies)


def _percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(len(values) * fraction))]


def _measure(port: int, path: str, sha256: str, mode: str) -> dict[str, float]:
    # Every worker's first requests load code and fill caches: not what is measured.
    _page_latencies(port, WARMUP_SECONDS)
    idle = _page_latencies(port, IDLE_SECONDS)
    downloads = [SlowDownload(port, path, sha256) for _ in range(DOWNLOADS)]
    for download in downloads:
        download.start()
    time.sleep(LOADED_DELAY)
    loaded = _page_latencies(port, LOADED_SECONDS)
    for download in downloads:
        download.join(timeout=300)
    errors = [download.error for download in downloads if download.error]
    if errors:
        raise RuntimeError(f"{mode}: {len(errors)} download(s) failed: {errors[0]}")
    result = {
        "idle p50": _percentile(idle, 0.5),
        "idle p95": _percentile(idle, 0.95),
        "loaded p50": _percentile(loaded, 0.5),
        "loaded p95": _percentile(loaded, 0.95),
        "loaded requests": float(len(loaded)),
    }
    print(
        f"{mode:<17} idle p50 {result['idle p50'] * 1000:7.1f} ms p95 "
        f"{result['idle p95'] * 1000:7.1f} ms ({len(idle)} requests); with {DOWNLOADS} "
        f"downloads p50 {result['loaded p50'] * 1000:7.1f} ms p95 "
        f"{result['loaded p95'] * 1000:7.1f} ms ({len(loaded)} requests)",
        flush=True,
    )
    return result


def main() -> list[Measurement]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-downloads-"))
    # nginx's workers may run as another user: they read the storage and the temp folders.
    workdir.chmod(0o755)
    try:
        path, sha256 = _prepare(workdir)
        for directory in (workdir / "media", *(workdir / "media").rglob("*")):
            directory.chmod(0o755 if directory.is_dir() else 0o644)
        results = {}
        with _gatehouse(workdir, "app") as port:
            results["app"] = _measure(port, path, sha256, "app")
        with _gatehouse(workdir, "x-accel-redirect") as upstream, _nginx(workdir, upstream) as port:
            results["x-accel-redirect"] = _measure(port, path, sha256, "x-accel-redirect")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    app, accel = results["app"], results["x-accel-redirect"]
    print(
        f"app mode (no target, for contrast): with {DOWNLOADS} downloads / idle, p95 "
        f"{app['loaded p95'] / app['idle p95']:.1f}x, "
        f"p50 {app['loaded p50'] / app['idle p50']:.1f}x"
    )
    return [
        Measurement(
            f"simple page p95 with {DOWNLOADS} downloads / idle, x-accel-redirect",
            accel["loaded p95"] / accel["idle p95"],
            1.5,
            "x",
        ),
        Measurement(
            f"simple page p50 with {DOWNLOADS} downloads / idle, x-accel-redirect",
            accel["loaded p50"] / accel["idle p50"],
            1.5,
            "x",
        ),
    ]

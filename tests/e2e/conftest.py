"""The live-server harness for end-to-end tests: the real app under gunicorn, on PostgreSQL.

`live_site` serves the app over plain HTTP on a free 127.0.0.1 port; `live_site_factory` starts
variants (TLS with a given certificate, extra environment) and keeps each one for the session.
The server process uses the test database pytest-django created (tests that use it request
`transactional_db`, so their rows are committed and visible to the server), a MEDIA_ROOT of its
own, and the test process's SECRET_KEY and TOKEN_SECRETS, so tokens minted in the test verify
in the server. End-to-end tests need PostgreSQL: with SQLite they are skipped.
"""

import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
STARTUP_TIMEOUT = 30.0


@dataclass
class LiveSite:
    """A running server: `url` has no trailing slash, e.g. `http://127.0.0.1:40123`."""

    url: str
    host: str
    port: int
    media_root: Path
    log_path: Path
    process: subprocess.Popen
    env: dict

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The URL of the database this test session uses (the test database, once it exists)."""
    db = settings.DATABASES["default"]
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{db['NAME']}"


def _wait_until_up(site: LiveSite, context: ssl.SSLContext | None) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if site.process.poll() is not None:
            pytest.fail(f"The live server exited at start:\n{site.log()}")
        try:
            with urllib.request.urlopen(  # noqa: S310 - the harness's own loopback URL
                f"{site.url}/_/health", timeout=2, context=context
            ) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    pytest.fail(f"The live server did not answer within {STARTUP_TIMEOUT} s:\n{site.log()}")


def start_live_site(
    directory: Path,
    *,
    certfile: Path | None = None,
    keyfile: Path | None = None,
    env: dict[str, str] | None = None,
    workers: int = 2,
) -> LiveSite:
    """Start gunicorn serving the app; stop it with `stop_live_site`."""
    port = free_port()
    scheme = "https" if certfile else "http"
    url = f"{scheme}://127.0.0.1:{port}"
    media_root = directory / "media"
    data_dir = directory / "data"
    media_root.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    server_env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CONN_MAX_AGE": "0",
        "DEBUG": "false",
        "SECRET_KEY": settings.SECRET_KEY,
        "TOKEN_SECRETS": ",".join(f"{k}={v}" for k, v in settings.TOKEN_SECRETS.items()),
        "TOKEN_SECRET_ID": settings.TOKEN_SECRET_ID,
        # Tokens minted by the test process carry its host; the server accepts it as well.
        "TOKEN_LOCATIONS": ",".join(dict.fromkeys([settings.SITE_HOST, "127.0.0.1"])),
        "SITE_URL": url,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "MEDIA_ROOT": str(media_root),
        "DATA_DIR": str(data_dir),
        "CACHE_URL": "locmemcache://",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "SECURE_SSL_REDIRECT": "false",
        **(env or {}),
    }
    command = [
        str(VENV_BIN / "gunicorn"),
        "index_site.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--timeout",
        "300",
        "--access-logfile",
        "-",
    ]
    if certfile:
        command += ["--certfile", str(certfile), "--keyfile", str(keyfile)]
    log_path = directory / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=server_env, stdout=log, stderr=subprocess.STDOUT
        )
    site = LiveSite(
        url=url,
        host="127.0.0.1",
        port=port,
        media_root=media_root,
        log_path=log_path,
        process=process,
        env=server_env,
    )
    context = None
    if certfile:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        _wait_until_up(site, context)
    except BaseException:
        stop_live_site(site)
        raise
    return site


def stop_live_site(site: LiveSite) -> None:
    if site.process.poll() is None:
        site.process.terminate()
        try:
            site.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            site.process.kill()
            site.process.wait()


@pytest.fixture(scope="session")
def _requires_postgres(django_db_setup):
    if connection.vendor != "postgresql":
        pytest.skip("End-to-end tests need PostgreSQL: set DATABASE_URL=postgres://...")


@pytest.fixture(scope="session")
def live_site_factory(_requires_postgres, django_db_blocker, tmp_path_factory):
    """`start(certfile=None, keyfile=None, env=None)` -> LiveSite, one server per variant.

    Servers live for the session. Tests talking to one must use `transactional_db` so the rows
    they create are committed and the server sees them.
    """
    sites: dict[tuple, LiveSite] = {}

    def start(
        *,
        certfile: Path | None = None,
        keyfile: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> LiveSite:
        key = (str(certfile), str(keyfile), tuple(sorted((env or {}).items())))
        if key not in sites:
            sites[key] = start_live_site(
                tmp_path_factory.mktemp("live-site"), certfile=certfile, keyfile=keyfile, env=env
            )
        return sites[key]

    yield start
    for site in sites.values():
        stop_live_site(site)


@pytest.fixture
def live_site(live_site_factory, transactional_db) -> LiveSite:
    """The app over plain HTTP, with the default settings."""
    return live_site_factory()

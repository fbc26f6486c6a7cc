"""Upload throughput: twine against Gatehouse, a null server and pypiserver, side by side.

    .venv/bin/python -m bench.upload

Workloads: one 1 MB, one 20 MB and one 100 MB wheel, then 50 small wheels in one twine call.
Servers, all on 127.0.0.1:
- Gatehouse under gunicorn (one sync worker) on PostgreSQL, in a database of its own
  (`gh_bench_upload` or BENCH_UPLOAD_DATABASE, recreated each run; server from DATABASE_URL,
  default the local one);
- a null server that reads the request body in 1 MiB chunks and discards it: the floor set by
  the client itself;
- pypiserver with htpasswd authentication, installed in bench/.venv-pypiserver on first use.

All three servers run at once and each workload is sent to each in turn, REPEATS[workload]
times, keeping the fastest wall time (load elsewhere on the machine only ever adds time), the
median CPU time and the largest memory growth. Reported: wall time, MiB/s and the ratios;
Gatehouse's CPU seconds per upload (utime + stime of the gunicorn worker from /proc/<pid>/stat)
and its peak RSS growth during the 100 MB upload (sampled every 5 ms).

The 50 small uploads' target is issue 15 §6's: at least 0.8x pypiserver's uploads per second.
The report also times one durable INSERT + COMMIT on the bench database: each Gatehouse upload
ends with one (its rows and audit events must survive a crash once twine is told 200), and
pypiserver, which keeps no database, makes none; on a machine whose disk flush costs more than
pypiserver's whole upload, that COMMIT alone decides the ratio.
"""

import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench import Measurement

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PYPISERVER_VENV = REPO_ROOT / "bench" / ".venv-pypiserver"
BENCH_DATABASE = os.environ.get("BENCH_UPLOAD_DATABASE", "gh_bench_upload")
USERNAME = "bench"
PASSWORD = "bench-password-not-secret"
MB = 1_000_000
MIB = 1024 * 1024
SIZES = (("1 MB", 1 * MB), ("20 MB", 20 * MB), ("100 MB", 100 * MB))
SMALL_COUNT = 50
# Issue 15 §6: 50 small uploads in one twine call at least this share of pypiserver's rate.
SMALL_TARGET = 0.8
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
TWINE_TIMEOUT = 600
# Runs per workload. A single small upload is mostly twine's own start-up (about 0.6 s here,
# varying by tens of milliseconds from run to run), so it takes more runs for the fastest to
# show the server's share.
REPEATS = {"1 MB": 9, "20 MB": 3, "100 MB": 3, "50 small": 5}
HTPASSWD_SCRIPT = (
    "import sys; from passlib.apache import HtpasswdFile;"
    "f = HtpasswdFile(sys.argv[1], new=True); f.set_password(sys.argv[2], sys.argv[3]);"
    "f.save()"
)


# --- processes -------------------------------------------------------------------------------


def _free_port() -> int:
    import socket  # noqa: PLC0415 - only needed here

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited at start:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback
                return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        found.extend(int(child) for child in children)
    return found


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / CLOCK_TICKS


def _rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE


class RssSampler:
    """Sample a process's resident set size in a thread; `peak` after `stop()`."""

    def __init__(self, pid: int, interval: float = 0.005) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = _rss_bytes(pid)
        self._running = True
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while self._running:
            self.peak = max(self.peak, _rss_bytes(self.pid))
            time.sleep(self.interval)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._running = False
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes(self.pid))


# --- servers ---------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    upload_url: str
    username: str
    password: str
    pid: int | None = None  # the process whose CPU and memory are measured


class _NullHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        remaining = int(self.headers.get("Content-Length", "0"))
        while remaining:
            chunk = self.rfile.read(min(remaining, MIB))
            if not chunk:
                break
            remaining -= len(chunk)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        return


@contextmanager
def null_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NullHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server("null", f"http://127.0.0.1:{server.server_port}/legacy/", "u", "p")
    finally:
        server.shutdown()


def _database_urls(database: str = BENCH_DATABASE) -> tuple[str, str]:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parts = urlsplit(base)
    if not parts.scheme.startswith("postgres"):
        base = "postgres://postgres@127.0.0.1:5432/postgres"
        parts = urlsplit(base)
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
    bench = urlunsplit((parts.scheme, parts.netloc, f"/{database}", "", ""))
    return admin, bench


def _recreate_database(admin_url: str, database: str = BENCH_DATABASE) -> None:
    import psycopg  # noqa: PLC0415 - the app's own driver

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{database}"')


def _prepare_gatehouse(env: dict[str, str]) -> str:
    """Migrate the bench database and mint an upload token in a child process; return it."""
    script = (
        "import django; django.setup()\n"
        "from django.core.management import call_command\n"
        "call_command('migrate', verbosity=0)\n"
        "from accounts.models import Email, User, WebAuthnCredential\n"
        "from tokens.services import create_api_token\n"
        f"user = User.objects.create_user(username={USERNAME!r}, password={PASSWORD!r})\n"
        "Email.objects.create(user=user, email='bench@example.com', is_primary=True,"
        " is_verified=True)\n"
        "WebAuthnCredential.objects.create(user=user, label='bench', credential_id=b'bench',"
        " public_key=b'bench')\n"
        "print(create_api_token(user=user, name='bench', actor=user)[1])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"Preparing the Gatehouse database failed:\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


def server_env(
    workdir: Path, database_url: str, *, site_url: str = "http://127.0.0.1", **extra: str
) -> dict[str, str]:
    """The environment of a Gatehouse server under benchmark: production settings (DEBUG off,
    persistent database connections), its files under `workdir`, `extra` on top."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "index_site.settings",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdef",
        "DEBUG": "false",
        "SITE_URL": site_url,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATA_DIR": str(workdir / "data"),
        "MEDIA_ROOT": str(workdir / "media"),
        "CACHE_URL": "locmemcache://",
        "LOG_LEVEL": "WARNING",
        # Persistent database connections, as in production (the settings' default): a new
        # connection per request would cost more than the request's queries.
        "CONN_MAX_AGE": "60",
        **extra,
    }


@contextmanager
def gatehouse_server(workdir: Path, *, workers: int = 1, database: str = BENCH_DATABASE):
    """Gatehouse under gunicorn with `workers` sync workers, on a new PostgreSQL `database`."""
    admin_url, bench_url = _database_urls(database)
    _recreate_database(admin_url, database)
    port = _free_port()
    env = server_env(workdir, bench_url, site_url=f"http://127.0.0.1:{port}")
    token = _prepare_gatehouse(env)
    log = workdir / f"{database}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "index_site.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                # One sync worker by default: twine sends its uploads one after another, so more
                # workers would idle. A gthread worker keeps twine's connection alive, but on
                # loopback it measured no faster and used more CPU per upload than a sync worker.
                "--workers",
                str(workers),
                "--timeout",
                "600",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_http(f"http://127.0.0.1:{port}/_/health", process, log)
        worker = _children(process.pid)[0]
        yield Server(
            "gatehouse", f"http://127.0.0.1:{port}/legacy/", "__token__", token, pid=worker
        )
    finally:
        _stop(process)


def _ensure_pypiserver() -> Path:
    executable = PYPISERVER_VENV / "bin" / "pypi-server"
    if not executable.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PYPISERVER_VENV)], check=True)
        subprocess.run(
            [
                str(PYPISERVER_VENV / "bin" / "pip"),
                "install",
                "--quiet",
                "pypiserver>=2,<3",
                "passlib>=1.7,<2",
            ],
            check=True,
        )
    return executable


@contextmanager
def pypiserver(workdir: Path):
    executable = _ensure_pypiserver()
    htpasswd = workdir / "htpasswd"
    packages = workdir / "pypiserver-packages"
    packages.mkdir()
    subprocess.run(
        [
            str(PYPISERVER_VENV / "bin" / "python"),
            "-c",
            HTPASSWD_SCRIPT,
            str(htpasswd),
            USERNAME,
            PASSWORD,
        ],
        check=True,
    )
    port = _free_port()
    log = workdir / "pypiserver.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                str(executable),
                "run",
                "-i",
                "127.0.0.1",
                "-p",
                str(port),
                "-P",
                str(htpasswd),
                "-a",
                "update",
                str(packages),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_http(f"http://127.0.0.1:{port}/", process, log)
        yield Server("pypiserver", f"http://127.0.0.1:{port}/", USERNAME, PASSWORD, pid=process.pid)
    finally:
        _stop(process)


# --- workloads -------------------------------------------------------------------------------


def _write_wheel(
    directory: Path, name: str, version: str, size: int, *, tag: str = "py3-none-any"
) -> Path:
    from tests.publishing.upload.dists import make_wheel  # noqa: PLC0415 - test-data builder

    # Random bytes stored uncompressed: the file is as large as asked and cannot be squeezed.
    wheel = make_wheel(
        name, version, tag=tag, payload=os.urandom(size), compression=zipfile.ZIP_STORED
    )
    path = directory / wheel.filename
    path.write_bytes(wheel.content)
    return path


def twine_command(server: Server, files: list[Path]) -> list[str]:
    """The twine upload of `files` to `server`, as CI runs it (no prompt, no progress bar)."""
    return [
        str(VENV_BIN / "twine"),
        "upload",
        "--non-interactive",
        "--disable-progress-bar",
        "--repository-url",
        server.upload_url,
        "-u",
        server.username,
        "-p",
        server.password,
        *map(str, files),
    ]


def _twine(server: Server, files: list[Path]) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINE_")}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    started = time.perf_counter()
    result = subprocess.run(
        twine_command(server, files),
        env=env,
        capture_output=True,
        text=True,
        timeout=TWINE_TIMEOUT,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"twine upload to {server.name} failed:\n{result.stdout}{result.stderr}")
    return elapsed


@dataclass
class Run:
    seconds: float
    cpu: float | None = None
    rss_growth: int | None = None


def _measure(server: Server, files: list[Path], *, sample_rss: bool = False) -> Run:
    pids = [server.pid] if server.pid else []
    cpu_before = _cpu_seconds(pids) if pids else None
    if sample_rss and server.pid:
        baseline = _rss_bytes(server.pid)
        with RssSampler(server.pid) as sampler:
            seconds = _twine(server, files)
        growth = sampler.peak - baseline
    else:
        seconds = _twine(server, files)
        growth = None
    cpu = _cpu_seconds(pids) - cpu_before if pids else None
    return Run(seconds=seconds, cpu=cpu, rss_growth=growth)


def _make_files(directory: Path) -> dict[str, list[list[Path]]]:
    """Per workload, one set of files per repeat (new versions each time: a filename is used
    once). The same files go to every server; they are different servers."""
    files: dict[str, list[list[Path]]] = {
        "warmup": [[_write_wheel(directory, "bench-warmup", "1.0", 1000)]]
    }
    for index, (label, size) in enumerate(SIZES):
        files[label] = [
            [_write_wheel(directory, "bench-big", f"{index + 1}.{repeat}", size)]
            for repeat in range(REPEATS[label])
        ]
    files["50 small"] = [
        [
            _write_wheel(directory, "bench-small", f"{repeat + 1}.{n}", 2000)
            for n in range(SMALL_COUNT)
        ]
        for repeat in range(REPEATS["50 small"])
    ]
    return files


def main() -> list[Measurement]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    runs: dict[str, dict[str, list[Run]]] = {}
    try:
        directory = workdir / "dists"
        directory.mkdir()
        files = _make_files(directory)
        with (
            null_server() as null,
            gatehouse_server(workdir) as gatehouse,
            pypiserver(workdir) as pypi,
        ):
            servers = (null, gatehouse, pypi)
            for server in servers:
                _twine(server, files["warmup"][0])
                runs[server.name] = {}
            # Interleaved, so a burst of load elsewhere on the machine hits all servers alike;
            # the best of the runs is kept (noise only ever adds time).
            for label in [label for label, _size in SIZES] + ["50 small"]:
                for repeat in range(REPEATS[label]):
                    for server in servers:
                        run = _measure(server, files[label][repeat], sample_rss=label == "100 MB")
                        runs[server.name].setdefault(label, []).append(run)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return _report(
        {
            name: {label: _best(label_runs) for label, label_runs in by_label.items()}
            for name, by_label in runs.items()
        }
    )


def _commit_cost(rounds: int = 30) -> tuple[float, float]:
    """Seconds one INSERT + COMMIT takes in the bench database: durable, and not waiting for
    the WAL flush. The floor of an upload's time that no cut in the application can lower."""
    import psycopg  # noqa: PLC0415 - the app's own driver

    _admin, bench_url = _database_urls()
    costs = []
    with psycopg.connect(bench_url) as connection:
        connection.execute("CREATE TABLE bench_commit_probe (n int)")
        connection.commit()
        for synchronous in ("on", "off"):
            connection.execute(f"SET synchronous_commit = {synchronous}")
            started = time.perf_counter()
            for n in range(rounds):
                connection.execute("INSERT INTO bench_commit_probe VALUES (%s)", [n])
                connection.commit()
            costs.append((time.perf_counter() - started) / rounds)
        connection.execute("DROP TABLE bench_commit_probe")
        connection.commit()
    return costs[0], costs[1]


def _best(label_runs: list[Run]) -> Run:
    """Fastest wall time, median CPU, largest memory growth."""
    cpus = sorted(run.cpu for run in label_runs if run.cpu is not None)
    growths = [run.rss_growth for run in label_runs if run.rss_growth is not None]
    return Run(
        seconds=min(run.seconds for run in label_runs),
        cpu=cpus[len(cpus) // 2] if cpus else None,
        rss_growth=max(growths) if growths else None,
    )


def _report(results: dict[str, dict[str, Run]]) -> list[Measurement]:
    gatehouse, null, pypi = results["gatehouse"], results["null"], results["pypiserver"]
    print(
        f"{'workload':<10} {'server':<11} {'seconds':>8} {'MiB/s':>8} {'vs null':>8} "
        f"{'vs pypisrv':>10} {'CPU s':>7}"
    )
    for label, size in (*SIZES, ("50 small", None)):
        for name, runs in results.items():
            run = runs[label]
            rate = (
                f"{size / MIB / run.seconds:8.1f}"
                if size
                else f"{SMALL_COUNT / run.seconds:6.1f}/s"
            )
            cpu = f"{run.cpu:7.2f}" if run.cpu is not None else f"{'-':>7}"
            print(
                f"{label:<10} {name:<11} {run.seconds:8.2f} {rate:>8} "
                f"{run.seconds / null[label].seconds:8.2f} "
                f"{run.seconds / pypi[label].seconds:10.2f} {cpu}"
            )
    growth = gatehouse["100 MB"].rss_growth or 0
    print(f"Gatehouse worker RSS growth during the 100 MB upload: {growth / MIB:.1f} MiB")
    durable, lazy = _commit_cost()
    print(
        f"A durable COMMIT on this machine's PostgreSQL: {durable * 1000:.1f} ms "
        f"({lazy * 1000:.1f} ms with synchronous_commit=off). Each Gatehouse upload makes one; "
        f"pypiserver makes none. 50 small uploads: {SMALL_COUNT * durable:.2f} s of COMMITs, "
        f"Gatehouse {gatehouse['50 small'].seconds:.2f} s, "
        f"pypiserver {pypi['50 small'].seconds:.2f} s"
    )
    measurements = [
        Measurement(
            "upload 100 MB: Gatehouse time / null server time",
            gatehouse["100 MB"].seconds / null["100 MB"].seconds,
            1.3,
            "x",
        ),
    ]
    for label, _size in SIZES:
        measurements.append(
            Measurement(
                f"upload {label}: Gatehouse time / pypiserver time",
                gatehouse[label].seconds / pypi[label].seconds,
                1.0,
                "x",
            )
        )
    measurements += [
        Measurement(
            "upload 100 MB: Gatehouse server CPU",
            gatehouse["100 MB"].cpu or 0.0,
            1.0,
            "s",
        ),
        Measurement(
            "upload 100 MB: Gatehouse worker peak RSS growth",
            growth / MIB,
            16.0,
            "MiB",
        ),
        Measurement(
            "50 small uploads: Gatehouse uploads/s vs 0.8x pypiserver's",
            SMALL_COUNT / gatehouse["50 small"].seconds,
            SMALL_TARGET * SMALL_COUNT / pypi["50 small"].seconds,
            "uploads/s",
            higher_is_better=True,
        ),
        Measurement(
            "50 small uploads: Gatehouse server CPU per upload",
            (gatehouse["50 small"].cpu or 0.0) / SMALL_COUNT,
            0.1,
            "s",
        ),
    ]
    return measurements


if __name__ == "__main__":
    main()


@contextmanager
def gunicorn(
    app: str,
    env: dict[str, str],
    log: Path,
    health: str,
    *,
    workers: int,
    extra: tuple[str, ...] = (),
) -> Iterator[int]:
    """`app` under gunicorn with `workers` sync workers on a free port, once `health` answers;
    yield the port."""
    port = _free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                app,
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                *extra,
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_http(f"http://127.0.0.1:{port}{health}", process, log)
        yield port
    finally:
        _stop(process)

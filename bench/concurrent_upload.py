"""A CI build matrix publishing at once: 8 twine processes, one wheel each, one release.

    .venv/bin/python -m bench concurrent_upload

Two Gatehouse servers under gunicorn on PostgreSQL, each on a database of its own (recreated
each run): one with 1 sync worker, one with 3. Each round uploads a matrix of MATRIX wheels of
WHEEL_SIZE bytes (one release of a project per round and server) three ways:
- 8 twine processes at once against 3 workers;
- 8 twine processes at once against 1 worker;
- the same 8 twine processes one after another against 3 workers (a build matrix whose
  uploads are serialised).
Throughput is files per second of wall time, from the first twine started to the last one
finished. The three ways run back to back within a round, so each ratio is taken within a
round, and the median of the ROUNDS rounds' ratios counts (load elsewhere on the machine comes
and goes from one round to the next). Targets (issue 15 §5): 8 at once with 3 workers at least
2x the rate with 1 worker, and at least 2x the rate of the same uploads one at a time. The
twine processes share the machine's cores with the servers and PostgreSQL, so every rate
includes the clients' own start-up (about 0.6 s of CPU per twine on an idle machine).
"""

import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench import Measurement
from bench.upload import TWINE_TIMEOUT, Server, _write_wheel, gatehouse_server, twine_command

WHEEL_SIZE = 1_000_000
ROUNDS = 3
TAGS = [
    f"cp3{minor}-cp3{minor}-{platform}"
    for minor in (11, 12)
    for platform in (
        "manylinux_2_17_x86_64",
        "musllinux_1_2_x86_64",
        "macosx_11_0_arm64",
        "win_amd64",
    )
]
MATRIX = len(TAGS)


def _matrix(directory: Path, project: str, version: str) -> list[Path]:
    """One wheel per tag of `project` `version`: the files of one release."""
    return [_write_wheel(directory, project, version, WHEEL_SIZE, tag=tag) for tag in TAGS]


def _check(processes: list[subprocess.Popen], server: Server) -> None:
    for process in processes:
        out, _ = process.communicate(timeout=TWINE_TIMEOUT)
        if process.returncode != 0:
            raise RuntimeError(f"twine upload to {server.name} failed:\n{out}")


def _at_once(server: Server, wheels: list[Path]) -> float:
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            twine_command(server, [wheel]),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_twine_env(),
        )
        for wheel in wheels
    ]
    _check(processes, server)
    return time.perf_counter() - started


def _one_at_a_time(server: Server, wheels: list[Path]) -> float:
    started = time.perf_counter()
    for wheel in wheels:
        process = subprocess.Popen(
            twine_command(server, [wheel]),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_twine_env(),
        )
        _check([process], server)
    return time.perf_counter() - started


def _twine_env() -> dict[str, str]:
    import os  # noqa: PLC0415 - only needed here

    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINE_")}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    return env


def main() -> list[Measurement]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-concurrent-"))
    rates: dict[str, list[float]] = {}
    try:
        directory = workdir / "dists"
        directory.mkdir()
        (workdir / "one").mkdir()
        (workdir / "three").mkdir()
        with (
            gatehouse_server(workdir / "one", workers=1, database="gh_bench_matrix_1") as one,
            gatehouse_server(workdir / "three", workers=3, database="gh_bench_matrix_3") as three,
        ):
            for server in (one, three):
                _at_once(server, [_write_wheel(directory, "bench-warmup", "1.0", 1000)])
            for round_number in range(1, ROUNDS + 1):
                runs = (
                    ("8 at once, 3 workers", three, _at_once, "bench-matrix"),
                    ("8 at once, 1 worker", one, _at_once, "bench-matrix"),
                    ("8 one at a time, 3 workers", three, _one_at_a_time, "bench-serial"),
                )
                for label, server, upload, project in runs:
                    wheels = _matrix(directory, project, f"{round_number}.0")
                    seconds = upload(server, wheels)
                    for wheel in wheels:
                        wheel.unlink()
                    rate = MATRIX / seconds
                    print(
                        f"round {round_number} {label:<27}: {seconds:6.2f} s, {rate:5.2f} files/s",
                        flush=True,
                    )
                    rates.setdefault(label, []).append(rate)
    except RuntimeError:
        # What the servers logged says why an upload failed.
        for log in sorted(workdir.rglob("gh_bench_matrix_*.log")):
            print(f"--- {log.name}:\n{log.read_text(errors='replace')[-6000:]}")
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return _report(rates)


def _median_ratio(numerators: list[float], denominators: list[float]) -> float:
    return statistics.median(n / d for n, d in zip(numerators, denominators, strict=True))


def _report(rates: dict[str, list[float]]) -> list[Measurement]:
    three, one, serial = (
        rates["8 at once, 3 workers"],
        rates["8 at once, 1 worker"],
        rates["8 one at a time, 3 workers"],
    )
    by_workers, by_concurrency = _median_ratio(three, one), _median_ratio(three, serial)
    print(
        f"median of the rounds: 3 workers / 1 worker {by_workers:.2f}x, "
        f"8 at once / one at a time {by_concurrency:.2f}x"
    )
    return [
        Measurement("8 concurrent twine uploads: 3 workers / 1 worker", by_workers, 2.0, "x", True),
        Measurement(
            "8 concurrent twine uploads (3 workers) / one at a time", by_concurrency, 2.0, "x", True
        ),
    ]

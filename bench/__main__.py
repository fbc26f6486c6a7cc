"""Run the benchmarks: `python -m bench [name ...]` (all of them by default).

Each benchmark runs in a process of its own; its output is shown as it comes, and its
measurements are checked against their targets. Exit status 1 if a target was missed or a
benchmark failed to run, 0 otherwise.
"""

import argparse
import importlib
import json
import pkgutil
import subprocess
import sys
import time
import traceback
from pathlib import Path

from bench import Measurement, as_measurements

BENCH_DIR = Path(__file__).resolve().parent
RESULT_MARKER = "BENCH-RESULT: "
SKIP = {"__main__"}


def discover() -> list[str]:
    """Names of the modules in bench/ (one without a main() is reported as skipped)."""
    names = []
    for module in pkgutil.iter_modules([str(BENCH_DIR)]):
        if module.name in SKIP or module.name.startswith("_") or module.ispkg:
            continue
        names.append(module.name)
    return sorted(names)


def run_one(name: str) -> int:
    """In the child process: run bench.<name>.main() and print its measurements as JSON."""
    module = importlib.import_module(f"bench.{name}")
    main = getattr(module, "main", None)
    if not callable(main):
        print(f"{RESULT_MARKER}{json.dumps({'skipped': 'no main()'})}")
        return 0
    result = main()
    if isinstance(result, int) and not isinstance(result, bool):
        # A main() written as an exit status: 0 passes, anything else fails.
        payload = {"measurements": [], "status": result}
    else:
        payload = {"measurements": [m.to_dict() for m in as_measurements(result)]}
    print(f"{RESULT_MARKER}{json.dumps(payload)}", flush=True)
    return 0


def run_child(name: str) -> tuple[list[Measurement] | None, str | None, float]:
    """Run one benchmark in a subprocess; return (measurements, error, seconds)."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench", "--one", name],
        cwd=BENCH_DIR.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    payload = None
    assert process.stdout is not None  # noqa: S101 - Popen was given stdout=PIPE
    for line in process.stdout:
        if line.startswith(RESULT_MARKER):
            payload = json.loads(line[len(RESULT_MARKER) :])
        else:
            print(f"  {line}", end="", flush=True)
    returncode = process.wait()
    seconds = time.monotonic() - started
    if returncode != 0 or payload is None:
        return None, f"exited with status {returncode} before reporting", seconds
    if "skipped" in payload:
        return None, None, seconds
    if payload.get("status"):
        return None, f"main() returned status {payload['status']}", seconds
    return as_measurements(payload["measurements"]), None, seconds


def run_all(names: list[str]) -> int:
    if not names:
        print("No benchmark modules with a main() in bench/.")
        return 1
    missed: list[str] = []
    summary: list[str] = []
    for name in names:
        print(f"== bench.{name}", flush=True)
        measurements, error, seconds = run_child(name)
        if error:
            line = f"FAILED bench.{name}: {error} ({seconds:.1f} s)"
            print(line)
            summary.append(line)
            missed.append(name)
            continue
        if measurements is None:
            summary.append(f"SKIPPED bench.{name}: no main()")
            continue
        if not measurements:
            print("  (no targets reported)")
        for measurement in measurements:
            line = f"{measurement.describe()}"
            print(f"  {line}")
            summary.append(f"bench.{name}: {line}")
            if not measurement.passed:
                missed.append(f"{name}: {measurement.name}")
        print(f"  ({seconds:.1f} s)\n", flush=True)
    print("== Summary")
    for line in summary:
        print(f"  {line}")
    if missed:
        print(f"\n{len(missed)} target(s) missed or benchmark(s) failed:")
        for item in missed:
            print(f"  - {item}")
        return 1
    print("\nEvery target met.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        try:
            return run_one(args.one)
        except Exception:  # noqa: BLE001 - report any crash of the benchmark, then fail
            traceback.print_exc(file=sys.stdout)
            return 1
    available = discover()
    unknown = [name for name in args.names if name not in available]
    if unknown:
        print(f"Unknown benchmark(s): {', '.join(unknown)}. Available: {', '.join(available)}")
        return 2
    return run_all(args.names or available)


if __name__ == "__main__":
    sys.exit(main())

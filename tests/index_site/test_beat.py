"""Exactly one celery beat per site: real beat processes, sharing a cache as replicas do."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import environ
import pytest
from django.utils.module_loading import import_string

from index_site.beat import CLAIM_KEY, CLAIM_SECONDS

REPO = Path(__file__).resolve().parent.parent.parent
CELERY = Path(sys.executable).parent / "celery"
START_TIMEOUT = 60.0


def _redis_cache_url() -> str:
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url:
        pytest.skip("The Redis variant needs REDIS_URL=redis://...")
    return redis_url.replace("redis://", "rediscache://", 1)


@pytest.fixture(params=["file cache", pytest.param("redis", marks=pytest.mark.services)])
def shared_cache_url(request, tmp_path) -> str:
    """The cache two beats on one site share: the embedded file cache, or Redis."""
    if request.param == "redis":
        url = _redis_cache_url()
        import redis  # noqa: PLC0415 - only with Redis configured

        client = redis.Redis.from_url(url.replace("rediscache://", "redis://", 1))
        for key in client.scan_iter(f"*{CLAIM_KEY}"):
            client.delete(key)
        return url
    return f"filecache://{tmp_path / 'cache'}"


def _start_beat(directory: Path, cache_url: str) -> subprocess.Popen:
    """`celery beat` as the Procfile runs it, with a data dir (broker, schedule) of its own,
    waking every second (not every RENEW_SECONDS), so a test sees it renew at once."""
    directory.mkdir(parents=True, exist_ok=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CELERY_")},
        "DEBUG": "false",
        "DATA_DIR": str(directory),
        "CACHE_URL": cache_url,
        "CELERY_BROKER_URL": "filesystem://",
        "LOG_LEVEL": "INFO",
    }
    return subprocess.Popen(
        [str(CELERY), "-A", "index_site", "beat", "--loglevel", "INFO", "--max-interval", "1"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for_line(process: subprocess.Popen, pattern: str) -> list[str]:
    """Read the process's output until a line matches; fail if it exits or takes too long."""
    seen: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            pytest.fail("beat exited before saying it claimed the site:\n" + "".join(seen))
        seen.append(line)
        if re.search(pattern, line):
            return seen
    pytest.fail("beat did not claim the site in time:\n" + "".join(seen))


def _stop(process: subprocess.Popen) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
    return process.returncode


def test_a_second_beat_refuses_to_start_while_the_first_runs(shared_cache_url, tmp_path):
    first = _start_beat(tmp_path / "first", shared_cache_url)
    try:
        _wait_for_line(first, "celery beat claimed the site")

        second = _start_beat(tmp_path / "second", shared_cache_url)
        output, _ = second.communicate(timeout=START_TIMEOUT)

        assert second.returncode != 0
        assert "another beat" in output
        assert "would send every periodic job twice" in output
        assert first.poll() is None, "the beat already running must keep running"
    finally:
        _stop(first)


def test_a_beat_stopped_cleanly_lets_its_replacement_start_at_once(shared_cache_url, tmp_path):
    first = _start_beat(tmp_path / "first", shared_cache_url)
    try:
        _wait_for_line(first, "celery beat claimed the site")
    finally:
        _stop(first)

    replacement = _start_beat(tmp_path / "replacement", shared_cache_url)
    try:
        _wait_for_line(replacement, "celery beat claimed the site")
    finally:
        _stop(replacement)


def test_beat_refuses_a_cache_private_to_each_process(tmp_path):
    beat = _start_beat(tmp_path / "beat", "locmemcache://")
    output, _ = beat.communicate(timeout=START_TIMEOUT)

    assert beat.returncode != 0
    assert "the cache is private to each process" in output


def test_a_beat_whose_claim_was_taken_stops_sending_jobs(shared_cache_url, tmp_path):
    beat = _start_beat(tmp_path / "beat", shared_cache_url)
    try:
        _wait_for_line(beat, "celery beat claimed the site")
        config = environ.Env.cache_url_config(shared_cache_url)
        shared = import_string(config["BACKEND"])(config["LOCATION"], config)
        shared.set(CLAIM_KEY, "another host pid 1 #00000000", CLAIM_SECONDS)

        output, _ = beat.communicate(timeout=START_TIMEOUT)

        assert "its claim was taken by another beat (another host pid 1 #00000000)" in output
        # The other beat's claim is left as it was.
        assert shared.get(CLAIM_KEY) == "another host pid 1 #00000000"
    finally:
        _stop(beat)

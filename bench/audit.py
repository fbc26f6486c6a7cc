"""The audit log at 1,000,000 events: history pages, export, and what sealing costs a request.

Run: `.venv/bin/python -m bench audit`. Needs PostgreSQL: DATABASE_URL names the server (default
postgres://postgres@127.0.0.1:5432/postgres); the benchmark creates `gatehouse_bench_audit` and
drops it at the end. Targets (issue "Audit log"):

- the 1,000th history page costs at most 1.5x the first (pages are cut by event id, no OFFSET);
- exporting 1,000,000 events as JSON Lines runs at 50,000 events/s or more, with at most 64 MiB
  of peak memory growth;
- recording an event (the request's write: insert and commit) while the sealing job seals
  costs at most 1.05x what it costs with no sealing running.
"""

import multiprocessing
import os
import resource
import statistics
import time
from datetime import timedelta

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "index_site.settings")
os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("SITE_URL", "http://testserver")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ["CACHE_URL"] = "locmemcache://"
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"

import logging

import django

django.setup()
# One line per seal is right once a minute in production; here it would drown the report.
logging.getLogger("auditlog.chain").setLevel(logging.WARNING)

from django.db import connection, connections, transaction  # noqa: E402
from django.test import RequestFactory  # noqa: E402

from bench import Measurement  # noqa: E402

BENCH_DATABASE = "gatehouse_bench_audit"
EVENTS = 1_000_000
PAGE = 1_000
ROUNDS = 200
BLOCKS = 5
WRITES = 400


def _fill(user_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO auditlog_auditevent (event_type, occurred_at, actor_id, actor_pk, "
            "actor_username, user_id, user_pk, username, project_name, ip_address, user_agent, "
            "data) SELECT 'account:login:success', now() - (g || ' seconds')::interval, "
            "%s, %s, 'bench', %s, %s, 'bench', '', '192.0.2.1', 'bench', "
            "jsonb_build_object('method', 'passkey') FROM generate_series(1, %s) AS g",
            [user_id, user_id, user_id, user_id, EVENTS],
        )
        cursor.execute("VACUUM ANALYZE auditlog_auditevent")
        cursor.execute("CHECKPOINT")


def _best_median(action) -> float:
    """The lowest of BLOCKS block medians, so a burst of load elsewhere is not counted."""
    medians = []
    for _ in range(BLOCKS):
        timings = []
        for _ in range(ROUNDS // BLOCKS):
            started = time.perf_counter()
            action()
            timings.append(time.perf_counter() - started)
        medians.append(statistics.median(timings))
    return min(medians)


def _pages(user) -> float:
    from auditlog.history import EVENTS_PER_PAGE, event_page  # noqa: PLC0415
    from auditlog.selectors import events_for_user  # noqa: PLC0415

    events = events_for_user(user)
    newest = events.order_by("-pk").values_list("pk", flat=True).first()
    cursor = newest - EVENTS_PER_PAGE * (PAGE - 1) + 1
    first = RequestFactory().get("/account/security-history/")
    far = RequestFactory().get("/account/security-history/", {"before": cursor})
    first_page = _best_median(lambda: event_page(first, events))
    far_page = _best_median(lambda: event_page(far, events))
    print(
        f"history page 1: {first_page * 1000:.2f} ms, page {PAGE:,}: {far_page * 1000:.2f} ms",
        flush=True,
    )
    return far_page / first_page


def _export(user) -> tuple[float, float]:
    from auditlog.history import export_response  # noqa: PLC0415
    from auditlog.selectors import events_for_user  # noqa: PLC0415

    request = RequestFactory().get("/account/security-history/export.jsonl")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    response = export_response(request, events_for_user(user), filename="bench", fmt="jsonl")
    lines = sum(chunk.count(b"\n") for chunk in response.streaming_content)
    elapsed = time.perf_counter() - started
    growth_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    rate = lines / elapsed
    print(
        f"export: {lines:,} events in {elapsed:.1f} s ({rate:,.0f} events/s), "
        f"peak memory growth {growth_mib:.1f} MiB",
        flush=True,
    )
    return rate, growth_mib


def _seal_every_second(stop) -> None:
    """In a process of its own, as the Celery worker runs the sealing job."""
    from auditlog import chain  # noqa: PLC0415

    chain.IN_FLIGHT_MARGIN = timedelta(0)
    while not stop.is_set():
        chain.seal()
        stop.wait(1)


def _record_latency(user, *, sealing: bool) -> float:
    from auditlog.events import EventType  # noqa: PLC0415
    from auditlog.services import record_event  # noqa: PLC0415

    stop = multiprocessing.Event()
    sealer = multiprocessing.Process(target=_seal_every_second, args=(stop,))
    if sealing:
        connections.close_all()  # the child must not share this process's connection
        sealer.start()

    def write() -> None:
        with transaction.atomic():
            record_event(event_type=EventType.ACCOUNT_LOGOUT, actor=user)

    try:
        medians = []
        for _ in range(BLOCKS):
            timings = []
            for _ in range(WRITES // BLOCKS):
                started = time.perf_counter()
                write()
                timings.append(time.perf_counter() - started)
            medians.append(statistics.median(timings))
        return min(medians)
    finally:
        stop.set()
        if sealing:
            sealer.join()


def main() -> list[Measurement]:
    from accounts.models import User  # noqa: PLC0415 - after setup
    from auditlog import chain  # noqa: PLC0415

    connection.settings_dict["TEST"] = {
        **connection.settings_dict.get("TEST", {}),
        "NAME": BENCH_DATABASE,
    }
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        user = User.objects.create_user(username="bench", password=None)
        started = time.perf_counter()
        _fill(user.pk)
        print(f"{EVENTS:,} events written in {time.perf_counter() - started:.1f} s", flush=True)
        page_ratio = _pages(user)
        rate, growth = _export(user)
        chain.IN_FLIGHT_MARGIN = timedelta(0)  # seal what was just written
        started = time.perf_counter()
        chain.seal()
        print(f"sealing {EVENTS:,} events: {time.perf_counter() - started:.1f} s", flush=True)
        # Alternate, so a change in the machine's load affects both sides alike.
        idle, busy = float("inf"), float("inf")
        for _ in range(3):
            idle = min(idle, _record_latency(user, sealing=False))
            busy = min(busy, _record_latency(user, sealing=True))
        print(
            f"record an event: {idle * 1000:.2f} ms idle, {busy * 1000:.2f} ms while sealing",
            flush=True,
        )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return [
        Measurement(f"history page {PAGE:,} / page 1", page_ratio, 1.5, "x"),
        Measurement(
            f"export of {EVENTS:,} events", rate, 50_000, "events/s", higher_is_better=True
        ),
        Measurement(f"export of {EVENTS:,} events, peak memory growth", growth, 64, "MiB"),
        Measurement("recording an event while sealing / idle", busy / idle, 1.05, "x"),
    ]


if __name__ == "__main__":
    for measurement in main():
        print(measurement.describe())

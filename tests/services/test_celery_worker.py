"""A real Celery worker, on Redis and PostgreSQL, delivers outbox email exactly once.

The worker is a separate process, as in production: it sees only rows the test committed, in the
same database pytest-django created, and writes email through the file backend into a temporary
folder. The tasks go to a queue of this test's own, so no other worker on the broker takes them.
"""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection, transaction

from index_site.celery import app
from index_site.email import queue_email
from index_site.models import OutboxEmail
from index_site.tasks import send_email

pytestmark = pytest.mark.services

REPO = Path(__file__).resolve().parent.parent.parent
TEST_TEMPLATES = REPO / "tests" / "templates"
WORKER_DEADLINE = 90  # seconds to wait for the worker before the test fails


def _require_redis_and_postgresql() -> None:
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        pytest.skip("Needs a Redis broker: set CELERY_BROKER_URL=redis://127.0.0.1:6379/1.")
    if connection.vendor != "postgresql":
        pytest.skip("Needs PostgreSQL: set DATABASE_URL=postgres://...")


def _database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test database)."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def _test_templates(settings):
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], TEST_TEMPLATES]}
    ]


@pytest.fixture
def worker_queue():
    """Send tasks for real (not eagerly) to a queue of this test's own."""
    _require_redis_and_postgresql()
    queue = f"gatehouse-test-{uuid.uuid4().hex}"
    saved = (app.conf.task_always_eager, app.conf.task_default_queue)
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    yield queue
    app.conf.task_always_eager, app.conf.task_default_queue = saved


@pytest.fixture
def worker(worker_queue, tmp_path):
    """Start `celery -A index_site worker` on the test's queue and database; stop it after."""
    emails = tmp_path / "emails"
    log_path = tmp_path / "worker.log"
    environment = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "EMAIL_URL": "",
        "EMAIL_FILE_PATH": str(emails),
        "DATA_DIR": str(tmp_path / "data"),
    }
    command = [
        sys.executable,
        *("-m", "celery", "-A", "index_site", "worker"),
        *("--queues", worker_queue, "--hostname", f"{worker_queue}@%h"),
        *("--pool", "solo", "--loglevel", "INFO"),
        *("--without-heartbeat", "--without-mingle", "--without-gossip"),
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, cwd=REPO, env=environment, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        yield process, emails, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_succeeded_tasks(process, log_path: Path, count: int) -> str:
    """Wait until the worker logged `count` finished send_email tasks; return its log."""
    deadline = time.monotonic() + WORKER_DEADLINE
    while time.monotonic() < deadline:
        log = log_path.read_text()
        finished = [
            line
            for line in log.splitlines()
            if "index_site.tasks.send_email[" in line and "succeeded in" in line
        ]
        if len(finished) >= count:
            return log
        assert process.poll() is None, f"The worker exited early:\n{log}"
        time.sleep(0.2)
    pytest.fail(f"The worker did not finish {count} tasks in time:\n{log_path.read_text()}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_test_templates")
def test_worker_delivers_a_committed_outbox_email_exactly_once(worker):
    process, emails, log_path = worker
    with transaction.atomic():
        (pk,) = queue_email(
            recipients=["ada@example.com"],
            template="test_email",
            context={"message": "Delivered by a real worker"},
        )
    # The same email queued again, as a broker redelivery or the periodic sweep would.
    send_email.delay(pk)

    log = _wait_for_succeeded_tasks(process, log_path, count=2)

    assert "ERROR" not in log, log
    row = OutboxEmail.objects.get(pk=pk)
    assert row.sent_at is not None
    assert row.attempts == 1
    written = "".join(path.read_text() for path in sorted(emails.iterdir()))
    assert written.count("Message-ID:") == 1
    assert "To: ada@example.com" in written
    assert "Delivered by a real worker" in written


@transaction.atomic
def _queue_then_fail() -> None:
    queue_email(recipients=["eve@example.com"], template="test_email", context={"message": "x"})
    raise RuntimeError("abandoned")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_test_templates")
def test_worker_sends_nothing_for_a_rolled_back_email(worker):
    process, emails, log_path = worker
    with pytest.raises(RuntimeError, match="abandoned"):
        _queue_then_fail()
    assert OutboxEmail.objects.count() == 0

    # A committed email afterwards is the only one the worker sends.
    with transaction.atomic():
        queue_email(recipients=["ada@example.com"], template="test_email", context={"message": "m"})
    _wait_for_succeeded_tasks(process, log_path, count=1)
    written = "".join(path.read_text() for path in sorted(emails.iterdir()))
    assert written.count("Message-ID:") == 1
    assert "eve@example.com" not in written

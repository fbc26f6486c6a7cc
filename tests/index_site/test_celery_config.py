"""The Celery app: every periodic job names a real task, every task has time limits, and the
embedded broker can start."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from index_site.celery import FILESYSTEM_BROKER_FOLDERS, app, ensure_broker_folders
from index_site.outbox import CLAIM_DURATION
from index_site.tasks import send_email

REPO = Path(__file__).resolve().parent.parent.parent


@pytest.mark.parametrize("entry", sorted(settings.CELERY_BEAT_SCHEDULE))
def test_every_periodic_job_names_a_registered_task(entry):
    app.loader.import_default_modules()
    task = settings.CELERY_BEAT_SCHEDULE[entry]["task"]
    assert task in app.tasks, f"beat would send {task!r}, which no worker knows"


def test_embedded_broker_folders_are_created_at_start(settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        key: str(tmp_path / "broker" / key) for key in FILESYSTEM_BROKER_FOLDERS
    }
    ensure_broker_folders()
    for key in FILESYSTEM_BROKER_FOLDERS:
        assert (tmp_path / "broker" / key).is_dir()


def test_the_embedded_broker_keeps_its_folders_under_the_data_dir(tmp_path):
    environment = {k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"}
    environment.update(DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="index_site.settings")
    script = (
        "import json; from django.conf import settings as s; "
        "print(json.dumps([s.CELERY_BROKER_URL, s.CELERY_BROKER_TRANSPORT_OPTIONS]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    broker_url, options = json.loads(result.stdout)
    assert broker_url == "filesystem://"
    for key in FILESYSTEM_BROKER_FOLDERS:
        assert options[key].startswith(str(tmp_path)), key


def _our_tasks() -> list:
    app.loader.import_default_modules()
    return [task for name, task in sorted(app.tasks.items()) if not name.startswith("celery.")]


@pytest.mark.parametrize("task", _our_tasks(), ids=lambda task: task.name)
def test_every_task_has_a_soft_and_a_hard_time_limit(task):
    soft = task.soft_time_limit or app.conf.task_soft_time_limit
    hard = task.time_limit or app.conf.task_time_limit
    # The soft limit comes first, so the task can record its failure before it is killed.
    assert soft, f"{task.name} has no soft time limit"
    assert hard, f"{task.name} has no hard time limit"
    assert soft < hard, f"{task.name}: soft limit {soft} s, hard limit {hard} s"


def test_email_delivery_ends_before_its_claim_lapses():
    # A lapsed claim must mean the worker is gone, never that it is still sending.
    assert send_email.soft_time_limit < send_email.time_limit
    assert send_email.time_limit < CLAIM_DURATION.total_seconds()

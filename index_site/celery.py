"""The Celery app: configured from Django settings (CELERY_*), JSON only."""

import os
from pathlib import Path

import structlog
from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "index_site.settings")

app = Celery("gatehouse")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def _bind_task_id(task_id: str, **_kwargs: object) -> None:
    # Every line a task writes names it; a task run inside a request keeps the request's id too.
    structlog.contextvars.bind_contextvars(task_id=task_id)


@task_postrun.connect
def _unbind_task_id(**_kwargs: object) -> None:
    structlog.contextvars.unbind_contextvars("task_id")


# Transport options of kombu's filesystem broker that name folders. kombu does not create the
# message folders itself: publishing to a missing folder fails, and a worker polling one fails.
FILESYSTEM_BROKER_FOLDERS = (
    "data_folder_in",
    "data_folder_out",
    "processed_folder",
    "control_folder",
)


def ensure_broker_folders() -> None:
    """Create the embedded broker's folders, so web, worker and beat can start in any order."""
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        return
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    for key in FILESYSTEM_BROKER_FOLDERS:
        if options.get(key):
            Path(str(options[key])).mkdir(parents=True, exist_ok=True)

"""Whether each dependency of the site answers: what `/_/health` reports.

Each check makes the smallest real round trip its dependency allows and reports "ok" or
"unavailable" with the error's class name (never its text: a broker URL can carry a password).
The database, the cache (which holds the rate limits: logins fail closed without it) and the
storage are *required*: the web process answers 503 without them, so `/_/health` does too. The
broker is reported but not required: emails are written to the outbox in the database and the
periodic sweep sends them once the broker is back, so web requests do not need it.

A failed check starts an outage episode (`index_site.outages`: one warning line), and a check
that passes again ends it, so a health probe polling every few seconds keeps the log to one line
per outage and one per recovery.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import connection
from kombu import Connection

from index_site.outages import note_available, note_outage

# Seconds the broker may take to accept a connection before it counts as down.
BROKER_TIMEOUT = 3.0


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_cache() -> None:
    # Written and read back: a cache that takes writes but loses them (a full or read-only
    # Redis) cannot hold rate limits either.
    key, value = "index_site:health", secrets.token_hex(8)
    cache.set(key, value, 30)
    if cache.get(key) != value:
        raise RuntimeError("the cache did not keep a value")


def check_storage() -> None:
    try:
        default_storage.listdir("")
    except FileNotFoundError:
        # A storage nothing was stored in yet: the first upload creates its directory.
        return


def check_broker() -> None:
    with Connection(
        settings.CELERY_BROKER_URL,
        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        connect_timeout=BROKER_TIMEOUT,
    ) as broker:
        broker.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT)


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[], None]
    is_required: bool


CHECKS = (
    Check("database", check_database, is_required=True),
    Check("cache", check_cache, is_required=True),
    Check("storage", check_storage, is_required=True),
    Check("broker", check_broker, is_required=False),
)


@dataclass(frozen=True)
class Health:
    dependencies: dict[str, dict[str, str | bool]]
    is_healthy: bool

    def as_json(self) -> dict:
        return {
            "status": "ok" if self.is_healthy else "unavailable",
            "dependencies": self.dependencies,
        }


def site_health() -> Health:
    """Run every check; healthy when every required dependency answers."""
    dependencies: dict[str, dict[str, str | bool]] = {}
    is_healthy = True
    for check in CHECKS:
        report: dict[str, str | bool] = {"required": check.is_required}
        try:
            check.run()
        except Exception as exc:  # noqa: BLE001 - any failure of a check means "unavailable"
            note_outage(check.name, exc)
            report.update(status="unavailable", error=type(exc).__name__)
            is_healthy = is_healthy and not check.is_required
        else:
            note_available(check.name)
            report["status"] = "ok"
        dependencies[check.name] = report
    return Health(dependencies=dependencies, is_healthy=is_healthy)

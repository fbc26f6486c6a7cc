"""A dependency that is down answers 503 with Retry-After and a sentence, never a 500 page.

Three dependencies can be down while the web process itself is fine: the database
(`django.db.OperationalError`/`InterfaceError`, psycopg's own errors for a lost connection), the
cache that also holds the rate-limit counters (redis' ConnectionError/TimeoutError, raised
through Django's cache), and the file storage (an OSError other than "not found", or botocore's
connection errors, raised inside a storage backend's method). Whatever page, API or middleware
meets one, the client is told the same thing: 503, `Retry-After`, and the dependency's sentence,

- as JSON `{"message", "code", "title"}` (the upload API's shape) when the client prefers JSON,
- as plain text for views marked `@plain_text_outages` (the upload API: twine prints only the
  reason phrase, which carries the sentence on every answer),
- as a self-contained HTML page otherwise, rendered without the request's context, since the
  context processors read the session and the user, from the dependencies that are down.

Login keeps failing closed while the rate-limit store is down: the limiter cannot count, so the
attempt is refused, with this answer instead of a 500.

Logging is one warning per outage *episode*, not a traceback per request: the first failure of a
dependency writes a line; further failures within EPISODE_QUIET_PERIOD of the previous one
belong to the same episode and write nothing (Django's own per-request error line is
suppressed too). `/_/health` ends an episode when it sees the dependency answer again. The
episode state is in-process on purpose: the cache, the only shared store besides the database,
may be the very thing that is down. Each process therefore logs each episode once.
"""

import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Any, TypeVar

import psycopg
import redis.exceptions
from botocore.exceptions import BotoCoreError
from django.core.files.storage import Storage
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils.cache import add_never_cache_headers

from index_site.reason_phrase import reason_phrase

logger = logging.getLogger(__name__)

# Seconds a client is asked to wait: long enough for a failover or a restart, short enough that
# twine's and pip's retries succeed soon after the dependency is back.
RETRY_AFTER_SECONDS = 30
# Seconds without a failure after which the next failure starts a new episode (and a new line).
EPISODE_QUIET_PERIOD = 300.0


class Dependency(StrEnum):
    DATABASE = "database"
    CACHE = "cache"
    STORAGE = "storage"


MESSAGES = {
    Dependency.DATABASE: "The database is unavailable right now. Try again in a minute.",
    Dependency.CACHE: (
        "The cache, which also holds the sign-in and upload rate limits, is unavailable right "
        "now, so the request was refused. Try again in a minute."
    ),
    Dependency.STORAGE: (
        "The file storage is unavailable right now, so nothing was published or changed. "
        "Try again in a minute."
    ),
}

_DATABASE_ERRORS = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
_CACHE_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
_STORAGE_ERRORS = (OSError, BotoCoreError)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


def _raised_in_storage(exc: BaseException) -> bool:
    # An OSError from a storage backend's own method is the storage failing; the same class
    # raised elsewhere (an HTTP client, a socket) is some other fault and stays a 500.
    return any(
        isinstance(frame.f_locals.get("self"), Storage)
        for frame, _line in traceback.walk_tb(exc.__traceback__)
    )


def outage_of(exc: BaseException) -> Dependency | None:
    """The dependency whose outage `exc` (or an exception it was raised from) reports, if any."""
    for error in _causes(exc):
        if isinstance(error, _DATABASE_ERRORS):
            return Dependency.DATABASE
        if isinstance(error, _CACHE_ERRORS):
            return Dependency.CACHE
        if (
            isinstance(error, _STORAGE_ERRORS)
            and not isinstance(error, FileNotFoundError)
            and _raised_in_storage(error)
        ):
            return Dependency.STORAGE
    return None


class _Episodes:
    """When each dependency last failed, in this process; see the module docstring for why."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_failure_at: dict[str, float] = {}

    def failed(self, dependency: str) -> bool:
        """Note a failure now; return True when it starts a new episode."""
        now = time.time()
        with self._lock:
            last = self._last_failure_at.get(dependency)
            self._last_failure_at[dependency] = now
        return last is None or now - last > EPISODE_QUIET_PERIOD

    def answered(self, dependency: str) -> bool:
        """Note that the dependency answered; return True when that ends an episode."""
        with self._lock:
            return self._last_failure_at.pop(dependency, None) is not None

    def reset(self) -> None:
        with self._lock:
            self._last_failure_at.clear()


episodes = _Episodes()


def note_outage(dependency: str, exc: BaseException) -> None:
    """Record a failure of `dependency` (a Dependency, or the broker, which `/_/health` checks);
    the first of an episode writes one warning line."""
    if episodes.failed(dependency):
        logger.warning(
            "Dependency unavailable",
            extra={
                "dependency": str(dependency),
                "error": type(exc).__name__,
                # The driver's text names host and port, never the password.
                "detail": " ".join(str(exc).split())[:200],
            },
        )


def note_available(dependency: str) -> None:
    """Record that `dependency` answered; the end of an episode writes one info line."""
    if episodes.answered(dependency):
        logger.info("Dependency available again", extra={"dependency": str(dependency)})


ViewFunction = TypeVar("ViewFunction", bound=Callable[..., Any])


def plain_text_outages(view: ViewFunction) -> ViewFunction:
    """Mark an API view whose clients read plain text (or JSON), never an HTML page."""
    view.plain_text_outages = True  # type: ignore[attr-defined]
    return view


def _answers_in_plain_text(request: HttpRequest) -> bool:
    match = getattr(request, "resolver_match", None)
    return bool(match and getattr(match.func, "plain_text_outages", False))


def outage_response(request: HttpRequest, dependency: Dependency) -> HttpResponse:
    """503 with Retry-After and the dependency's sentence, in the form the client reads."""
    message = MESSAGES[dependency]
    # Listed first, the site's usual form wins ties: `*/*` (browsers, twine, curl) gets it.
    usual = "text/plain" if _answers_in_plain_text(request) else "text/html"
    preferred = request.get_preferred_type([usual, "application/json"])
    response: HttpResponse
    if preferred == "application/json":
        response = JsonResponse(
            {"message": message, "code": f"503 {message}", "title": "Service Unavailable"},
            status=503,
        )
    elif usual == "text/plain":
        response = HttpResponse(
            message + "\n", status=503, content_type="text/plain; charset=utf-8"
        )
    else:
        response = HttpResponse(
            loader.get_template("503.html").render({"message": message}), status=503
        )
    response.reason_phrase = reason_phrase(message)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    add_never_cache_headers(response)
    # The episode's warning stands for every request of the outage: Django's handler must not
    # add an error line per request (it skips responses flagged as logged already).
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def answer_outage(request: HttpRequest, exc: BaseException) -> HttpResponse | None:
    """The outage answer for `exc`, its failure noted; None when `exc` is no outage."""
    dependency = outage_of(exc)
    if dependency is None:
        return None
    note_outage(dependency, exc)
    return outage_response(request, dependency)


def answer_current_outage(request: HttpRequest) -> HttpResponse | None:
    """For handler500: the outage answer for the exception being handled, if it is one.

    Exceptions raised by middleware (a session saved to a cache that is down) never reach a
    `process_exception`; Django hands them to handler500 while the exception is being handled.
    """
    exc = sys.exc_info()[1]
    return None if exc is None else answer_outage(request, exc)


class OutageMiddleware:
    """Answer a view's dependency outage with the 503 of `outage_response`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return answer_outage(request, exception)

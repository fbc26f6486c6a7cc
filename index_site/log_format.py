"""Every log line is one JSON object, so no value written into it can forge or colour a line.

Django's, Celery's, gunicorn's and the application's loggers all write through one
`structlog.stdlib.ProcessorFormatter`. JSON escapes line breaks and every control character,
and `ensure_ascii` escapes the rest of non-ASCII too (bidi controls included), so a username,
path or header that holds `\\n{"level": "forged"}` or `\\x1b[31m` lands inside a string value,
inert in a terminal and for `jq`. Each line carries `timestamp` (ISO 8601, UTC), `level`,
`logger`, `event`, `request_id` and `client_ip` (null outside a request, bound by
`index_site.middleware.RequestContextMiddleware`), plus the fields the call passed in `extra`.

This module imports nothing of Django's: gunicorn's configuration (`gunicorn.conf.py`) builds its
logging from it before Django is set up.
"""

import datetime
from typing import Any

import structlog
from gunicorn.glogging import Logger as GunicornBaseLogger

# Bound for the length of a request or a task; always present in a line, null when unbound.
CONTEXT_KEYS = ("request_id", "client_ip")


def _context_keys(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in CONTEXT_KEYS:
        event.setdefault(key, None)
    return event


def _drop_request(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    # Django passes the request object in `extra`; its text holds the query string.
    event.pop("request", None)
    return event


def _rename_level(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    event["level"] = event.pop("level", "info").lower()
    return event


_PRE_CHAIN: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.stdlib.ExtraAdder(),
    _drop_request,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    _context_keys,
    _rename_level,
]


def json_formatter() -> structlog.stdlib.ProcessorFormatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_PRE_CHAIN,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(ensure_ascii=True, default=str),
        ],
    )


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """The `logging.config.dictConfig` mapping for the site, the worker and gunicorn."""
    quiet_own_handlers = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": json_formatter}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django and gunicorn put plain handlers of their own on these; naming them here
            # removes those, so every line passes up to the one JSON handler.
            "django": {**quiet_own_handlers, "level": level},
            "django.server": quiet_own_handlers,
            "django.db.backends": {"level": "WARNING"},
            "gunicorn.error": quiet_own_handlers,
            "gunicorn.access": quiet_own_handlers,
            "celery": quiet_own_handlers,
        },
    }


def configure_structlog() -> None:
    """structlog's own loggers render through the same stdlib handler as every other line."""
    structlog.configure(
        processors=[*_PRE_CHAIN, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )


class GunicornLogger(GunicornBaseLogger):
    """gunicorn's access log as JSON fields, with the path but never the query string.

    Credentials pasted into a URL by mistake (`?password=...`, `?token=...`) must not land on
    disk, so only PATH_INFO is written, not the request line gunicorn logs by default.
    """

    def access(
        self, resp: Any, req: Any, environ: dict[str, Any], request_time: datetime.timedelta
    ) -> None:
        self.access_log.info(
            "request",
            extra={
                "method": environ.get("REQUEST_METHOD"),
                "path": environ.get("PATH_INFO"),
                "status": getattr(resp, "status_code", None),
                "bytes": getattr(resp, "sent", None),
                "duration_ms": round(request_time.total_seconds() * 1000, 1),
                "user_agent": environ.get("HTTP_USER_AGENT"),
                "request_id": environ.get("gatehouse.request_id"),
                "client_ip": environ.get("gatehouse.client_ip"),
            },
        )

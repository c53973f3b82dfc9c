"""Logging, configured in one place: JSON lines in production, readable lines otherwise.

Every record leaving through our handler is stamped with the request id of the request
it was logged in (:class:`RequestIdFilter`); the request's own line (logger
``blog.requests``) carries its fields as attributes, which both formats print.
``blog serve`` hands :func:`logging_config` to uvicorn (which applies it in every worker
process); ``blog worker`` applies it with :func:`configure_logging`.
"""

import json
import logging
import logging.config
import time
from datetime import datetime
from typing import Any

from blog.observability.context import current, current_job
from blog.settings import Settings

# Attributes every LogRecord has; anything else on a record was passed as ``extra``
# (but uvicorn's ``color_message``: its message again, with terminal colours).
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "color_message",
}
_NOT_EXTRA = _STANDARD | {"request_id"}
_REQUEST_FIELDS = ("method", "route", "status", "duration_ms", "tenant", "user_id", "client")


class RequestIdFilter(logging.Filter):
    """Stamps ``request_id`` on each record logged while a request is served, and
    ``job_id`` and ``tenant_id`` on those logged while a background job runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            context = current()
            record.request_id = None if context is None else context.request_id
        job = current_job()
        if job is not None and not hasattr(record, "job_id"):
            record.job_id = job.job_id
            record.tenant_id = job.tenant_id
        return True


_encode = json.JSONEncoder(default=str, ensure_ascii=False, separators=(",", ":")).encode
_string = json.encoder.encode_basestring  # a str as a JSON string, in C
_second: tuple[int, str] = (0, "1970-01-01T00:00:00")  # the last second written, as text


def _utc_time(created: float) -> str:
    """``2026-01-02T03:04:05.678Z``; a second's text is made once (this is per request)."""
    global _second
    second, text = _second
    if second != int(created):
        second = int(created)
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second = (second, text)
    return f"{text}.{int((created - second) * 1000):03d}Z"


def _json(value: Any) -> str:
    """``json.dumps(value)``, quicker for the values a log line mostly holds."""
    kind = type(value)
    if kind is str:
        return _string(value)
    if value is None:
        return "null"
    if kind is int:
        return str(value)
    return _encode(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, extras.

    Written out by hand rather than through a dict and ``json.dumps``: a third less time
    for a request's line."""

    def format(self, record: logging.LogRecord) -> str:
        line = (
            f'{{"time":"{_utc_time(record.created)}","level":"{record.levelname.lower()}",'
            f'"logger":{_string(record.name)},"message":{_string(record.getMessage())},'
            f'"request_id":{_json(getattr(record, "request_id", None))}'
        )
        extras = "".join(
            f",{_string(key)}:{_json(value)}"
            for key, value in record.__dict__.items()
            if key not in _NOT_EXTRA
        )
        if record.exc_info:
            extras += f',"exception":{_string(self.formatException(record.exc_info))}'
        return f"{line}{extras}}}"


class ConsoleFormatter(logging.Formatter):
    """For a person at a terminal: ``12:00:01.234 INFO GET /route 200 1.2ms …``."""

    def format(self, record: logging.LogRecord) -> str:
        clock = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        fields = record.__dict__
        if record.name == "blog.requests" and "status" in fields:
            text = (
                f"{fields['method']} {fields['route'] or '-'} {fields['status']} "
                f"{fields['duration_ms']:.1f}ms"
            )
            extras = {key: fields.get(key) for key in ("tenant", "user_id", "client")}
        else:
            text = f"{record.name}: {record.getMessage()}"
            extras = {
                key: value
                for key, value in fields.items()
                if key not in _STANDARD and key not in _REQUEST_FIELDS and key != "request_id"
            }
        shown = " ".join(f"{key}={value}" for key, value in extras.items() if value is not None)
        request_id = fields.get("request_id")
        line = f"{clock} {record.levelname:<7} {text}"
        line += f" {shown}" if shown else ""
        line += f" [{request_id}]" if request_id else ""
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def logging_config(settings: Settings) -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for the app's loggers and uvicorn's.

    uvicorn's access log is not configured: ``blog.requests`` replaces it (``blog serve``
    turns it off).
    """
    formatter = JsonFormatter if settings.log_json else ConsoleFormatter
    handler = {"handlers": ["default"], "level": settings.log_level, "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "formatters": {"default": {"()": f"{__name__}.{formatter.__name__}"}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "loggers": {
            "blog": handler,
            "huey": handler,
            "uvicorn": {**handler, "level": "INFO"},
            "uvicorn.error": {"level": "INFO"},
        },
    }


def configure_logging(settings: Settings) -> None:
    """Apply :func:`logging_config` in this process (commands that serve no HTTP)."""
    logging.config.dictConfig(logging_config(settings))

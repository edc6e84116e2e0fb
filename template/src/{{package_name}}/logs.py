"""Logging: one line per event with time, level, logger and the request id it belongs to; as
text, or as one JSON object per line (`LOG_FORMAT=json`) for log aggregators.

`X-Request-ID` is taken from the request when it is a sane token, otherwise generated; it is
returned on the response and stamped on every log line written while the request runs. The
server's access line also gets the time the request took until its response started.
"""

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal, TextIO

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
# Accepted from clients as is; anything else (too long, odd characters) is replaced, so a
# client cannot write arbitrary text into the logs.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

ACCESS_LOGGER = "uvicorn.access"

request_id: ContextVar[str] = ContextVar("request_id", default="-")
request_started: ContextVar[float | None] = ContextVar("request_started", default=None)


class RequestContextFilter(logging.Filter):
    """Stamps the request id on every record, and the server's access line with `duration_ms`:
    uvicorn writes it as the response starts, so it is the time to the first byte."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        started = request_started.get()
        if record.name == ACCESS_LOGGER and started is not None:
            record.duration_ms = round((time.perf_counter() - started) * 1000, 1)
        return True


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        duration = getattr(record, "duration_ms", None)
        return line if duration is None else f"{line} {duration} ms"


class JsonFormatter(logging.Formatter):
    """One JSON object per line, a traceback in it as one field (a text traceback spans many
    lines, which an aggregator splits into as many events)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        entry |= access_fields(record)
        return json.dumps(entry, ensure_ascii=False)


def access_fields(record: logging.LogRecord) -> dict[str, object]:
    """The access line's parts as fields an aggregator can filter and chart on."""
    if record.name != ACCESS_LOGGER or not isinstance(record.args, tuple):
        return {}
    fields: dict[str, object] = {}
    # uvicorn's access line: '%s - "%s %s HTTP/%s" %d' % (client, method, path, version, status)
    if len(record.args) == 5:
        client, method, path, _, status = record.args
        fields = {"client": client, "method": method, "path": path, "status": status}
    if (duration := getattr(record, "duration_ms", None)) is not None:
        fields["duration_ms"] = duration
    return fields


LogFormat = Literal["text", "json"]


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to `sys.stderr` as it is when a record comes, as logging's last-resort handler
    does: whoever replaced it since (pytest, for each test) gets the line, and a stream closed
    since (pytest's, once a run is interrupted) is never written to."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: object) -> None:
        """StreamHandler sets it; it is always `sys.stderr`."""


def configure_logging(level: str, log_format: LogFormat = "text") -> None:
    """Route every logger (uvicorn's included) to one stderr handler with one format."""
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter(FORMAT))
    handler.addFilter(RequestContextFilter())
    handler.set_name("service")
    root = logging.getLogger()
    # Idempotent: building the app twice (tests, reloads) must not print every line twice.
    for old in [h for h in root.handlers if h.get_name() == "service"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", ACCESS_LOGGER):
        server_logger = logging.getLogger(name)
        if name == ACCESS_LOGGER and access_log_turned_off(server_logger):
            continue
        server_logger.handlers.clear()
        server_logger.propagate = True


def access_log_turned_off(access: logging.Logger) -> bool:
    """`uvicorn --no-access-log` leaves its access logger without handlers, not propagating."""
    return not access.handlers and not access.propagate


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        current = given if _SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = current
            await send(message)

        token, started = request_id.set(current), request_started.set(time.perf_counter())
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
            request_started.reset(started)

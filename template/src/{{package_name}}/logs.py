"""Logging: one line per event with time, level, logger and the request id it belongs to; as
text, or as one JSON object per line (`LOG_FORMAT=json`) for log aggregators.

`X-Request-ID` is taken from the request when it is a sane token, otherwise generated; it is
returned on the response and stamped on every log line written while the request runs.
"""

import json
import logging
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
# Accepted from clients as is; anything else (too long, odd characters) is replaced, so a
# client cannot write arbitrary text into the logs.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

request_id: ContextVar[str] = ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


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
        return json.dumps(entry, ensure_ascii=False)


LogFormat = Literal["text", "json"]


def configure_logging(level: str, log_format: LogFormat = "text") -> None:
    """Route every logger (uvicorn's included) to one stderr handler with one format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(FORMAT))
    handler.addFilter(RequestIdFilter())
    handler.set_name("service")
    root = logging.getLogger()
    # Idempotent: building the app twice (tests, reloads) must not print every line twice.
    for old in [h for h in root.handlers if h.get_name() == "service"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        server_logger = logging.getLogger(name)
        if name == "uvicorn.access" and access_log_turned_off(server_logger):
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

        token = request_id.set(current)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)

"""Every error leaves the service as JSON; nothing internal (no traceback) reaches the client.

- Validation errors (422) name the field and echo at most a short, escaped prefix of the input;
  a body that is not JSON at all (malformed, not UTF-8, too deep to parse) is a 400 of that shape.
  A body sent as anything but JSON (`Content-Type`) where JSON is expected is a 415.
- A database that hangs, refuses or fails answers 503 with `Retry-After`; one warning per outage.
- A write the database refuses for the data it meets (a unique value taken, a reference to a
  missing row) is a 409 naming the constraint; other refusals (NOT NULL, CHECK) are bugs.
- Anything else is a bug: 500 JSON, logged once with its traceback and request id.
"""

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from .asgi import WatchedSend
from .db import (
    DATABASE_FAILURES,
    UNWRAPPED_FAILURES,
    DatabaseOutage,
    driver_error,
    is_outage,
    raised_by_the_driver,
    sqlstate,
)

logger = logging.getLogger(__name__)

# Enough of the input to recognise it; more would echo whole bodies back (and into logs).
ECHO_LIMIT = 40
# Enough to fix a request by; a body of a thousand unknown keys would otherwise get an answer
# ten times its size.
REPORTED_ERRORS_LIMIT = 20
# What a client should wait before retrying a 503: about one connect timeout plus a ping.
RETRY_AFTER_SECONDS = 5


class ErrorDetail(BaseModel):
    """Body of 4xx/5xx answers, the shape FastAPI's HTTPException already uses."""

    detail: str


class InvalidItem(BaseModel):
    type: str
    loc: list[str | int]
    msg: str
    input: Any = None


class InvalidBody(BaseModel):
    """Body of 400 (unparseable JSON) and 422 (invalid values) answers."""

    detail: list[InvalidItem]


# What a 405's Allow header may name (HEAD follows GET).
ROUTED_METHODS = ("DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT")
# The error type of a body that cannot be parsed: 400, where invalid values are 422.
UNPARSEABLE = "json_invalid"


def is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def validation_status(items: list[dict[str, Any]]) -> int:
    return 400 if items and all(item["type"] == UNPARSEABLE for item in items) else 422


class DomainError(Exception):
    """A request the domain refuses; its message is safe to show. Subclasses pick the status;
    this default, 409, says the request conflicts with the data as it is. (400 and 422 are the
    validation errors' statuses, documented with their own body: a list of items.)"""

    status_code = 409


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


async def domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    return JSONResponse(status_code=error.status_code, content={"detail": str(error)})


def safe_text(value: str | bytes, limit: int = ECHO_LIMIT) -> str:
    """Printable, valid UTF-8, at most `limit` characters: lone surrogates and bad bytes escaped."""
    if isinstance(value, bytes):
        text = value.decode("utf-8", "backslashreplace")
    else:
        text = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + "…"


def _safe_input(value: Any) -> tuple[bool, Any]:
    if value is None or isinstance(value, bool):
        return True, value
    if isinstance(value, int):
        return True, value if abs(value) < 2**53 else safe_text(str(value))
    if isinstance(value, float):
        return math.isfinite(value), value
    if isinstance(value, str | bytes):
        return True, safe_text(value)
    return False, None  # objects and arrays: the location says enough


def _safe_error(error: dict[str, Any]) -> dict[str, Any]:
    location = [part if isinstance(part, int) else safe_text(str(part)) for part in error["loc"]]
    safe = {"type": error["type"], "loc": location, "msg": safe_text(error["msg"], 300)}
    echo, value = _safe_input(error.get("input"))
    if echo:
        safe["input"] = value
    return safe


async def validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = error.errors()
    content_type = request.headers.get("content-type")
    if (content_type is None or not is_json(content_type)) and any(
        tuple(item["loc"]) == ("body",) and item["type"] != "missing" for item in errors
    ):
        # A body is there, but not as JSON: FastAPI did not parse it, and says only that it is
        # not an object. Saying what to send helps more.
        sent = f"Content-Type {safe_text(content_type)!r}" if content_type else "no Content-Type"
        message = (
            f"Request body must be JSON: send it with Content-Type: application/json, not {sent}"
        )
        return JSONResponse(status_code=415, content={"detail": message})
    detail = [_safe_error(item) for item in errors[:REPORTED_ERRORS_LIMIT]]
    if len(errors) > REPORTED_ERRORS_LIMIT:
        message = f"{len(errors)} errors, the first {REPORTED_ERRORS_LIMIT} listed: fix them first"
        detail.append({"type": "too_many_errors", "loc": [], "msg": message})
    return JSONResponse(status_code=validation_status(detail), content={"detail": detail})


async def http_error(request: Request, error: Exception) -> Response:
    """FastAPI's answer, except that a 405 names every method the path takes (Starlette names
    those of the first route on the path only: a GET and a POST route, asked PUT, said
    `Allow: GET`)."""
    assert isinstance(error, HTTPException)
    if error.status_code != 405:
        return await http_exception_handler(request, error)
    # Asked of the router itself, method by method: included routers keep their routes inside.
    allowed = {
        method
        for method in ROUTED_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    }
    if "GET" in allowed:
        allowed.add("HEAD")  # HeadAsGetMiddleware
    headers = {"Allow": ", ".join(sorted(allowed))}
    return JSONResponse(status_code=405, content={"detail": error.detail}, headers=headers)


# What the request ran into, by SQLSTATE: the data as it is, not a bug in the service.
CONFLICTING_DATA = {
    "23505": "a value that must be unique is taken",
    "23503": "a reference to a row that does not exist, or a row that others still refer to",
}


async def data_conflict(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, IntegrityError)
    problem = CONFLICTING_DATA.get(sqlstate(error))
    if problem is None:
        raise error  # a NOT NULL or CHECK the API let through: a bug (UnhandledErrorMiddleware)
    # asyncpg's own error names the constraint.
    constraint = getattr(driver_error(error), "constraint_name", None)
    detail = f"The request conflicts with the data: {problem}"
    if constraint:
        detail += f" ({safe_text(constraint)})"
    return JSONResponse(status_code=409, content={"detail": detail})


async def database_error(request: Request, error: Exception) -> JSONResponse:
    """What the driver raised as a plain DBAPIError: an outage (a restart, no free connection, a
    refused login) is a 503 like any other; anything else is a bug."""
    assert isinstance(error, DBAPIError)
    if not is_outage(error):
        raise error
    return await database_unavailable(request, error)


async def unwrapped_failure(request: Request, error: Exception) -> JSONResponse:
    """A socket error or a timeout: the database's fault if the driver raised it, else a bug."""
    if not raised_by_the_driver(error):
        raise error
    return await database_unavailable(request, error)


async def database_unavailable(request: Request, error: Exception) -> JSONResponse:
    outage: DatabaseOutage = request.app.state.resources.database_outage
    outage.failed(error)
    return JSONResponse(
        status_code=503,
        content={"detail": "The database is unavailable; retry later"},
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


class UnhandledErrorMiddleware:
    """A bug answers 500 JSON, logged once. Inside the request id middleware, so the answer and
    the log line carry the id; not re-raised to the server (which would log it a second time,
    without the id), unless the answer had begun and the server must cut the connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        watched = WatchedSend(send)
        try:
            await self.app(scope, receive, watched)
        except Exception:
            # %r: the decoded path may hold line breaks, which must not split the log line.
            logger.exception("unhandled error on %s %r", scope["method"], scope["path"])
            if watched.response_started:
                raise
            response = JSONResponse(status_code=500, content={"detail": "Internal server error"})
            await response(scope, receive, send)


# What any request may answer besides its own responses; openapi.py leaves the body errors
# to operations that take a body, and 422 to those that take input.
BODY_ERROR_STATUSES = (400, 408, 413, 415)
VALIDATION_STATUS = 422
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": InvalidBody, "description": "Request body is not JSON (malformed, not UTF-8)"},
    408: {"model": ErrorDetail, "description": "Request body slower than BODY_TIMEOUT_SECONDS"},
    413: {"model": ErrorDetail, "description": "Request body larger than MAX_BODY_BYTES"},
    415: {"model": ErrorDetail, "description": "Request body sent as another media type than JSON"},
    VALIDATION_STATUS: {"model": InvalidBody, "description": "Invalid input: one item per field"},
    500: {"model": ErrorDetail, "description": "A bug: logged with the request id"},
    503: {
        "model": ErrorDetail,
        "description": "The database is unavailable, or the server is shutting down",
    },
}


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    for failure in DATABASE_FAILURES:
        app.add_exception_handler(failure, database_unavailable)
    for failure in UNWRAPPED_FAILURES:
        app.add_exception_handler(failure, unwrapped_failure)
    app.add_exception_handler(IntegrityError, data_conflict)
    app.add_exception_handler(DBAPIError, database_error)
    app.add_exception_handler(DomainError, domain_error)

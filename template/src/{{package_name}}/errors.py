"""Every error leaves the service as JSON; nothing internal (no traceback) reaches the client."""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

logger = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    """Body of 4xx/5xx answers, the shape FastAPI's HTTPException already uses."""

    detail: str


class DomainError(Exception):
    """A request the domain refuses; its message is safe to show. Subclasses pick the status."""

    status_code = 400


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


async def domain_error(request: Request, error: Exception) -> JSONResponse:
    status_code = error.status_code if isinstance(error, DomainError) else 400
    return JSONResponse(status_code=status_code, content={"detail": str(error)})


async def unhandled_error(request: Request, error: Exception) -> JSONResponse:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return JSONResponse(status_code=500, content={"detail": "Internal server error"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Exception, unhandled_error)
    app.add_exception_handler(DomainError, domain_error)

"""Every error leaves the service as JSON; nothing internal (no traceback) reaches the client."""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

logger = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    """Body of 4xx/5xx answers, the shape FastAPI's HTTPException already uses."""

    detail: str


async def unhandled_error(request: Request, error: Exception) -> JSONResponse:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return JSONResponse(status_code=500, content={"detail": "Internal server error"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Exception, unhandled_error)

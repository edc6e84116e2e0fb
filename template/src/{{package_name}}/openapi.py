"""The OpenAPI document as client generators read it.

Operation ids are the route functions' names (`ready`, not `ready_health_ready_get`).
Each operation lists the errors it can answer: the body errors only where it takes a body, the
validation errors (one schema for 400 and 422) only where it takes input, a 404 where a path
parameter may name what does not exist and a 409 where it writes (unless the route documents them
in words of its own), and every error as the JSON the handlers send, whatever the route's own
media type. Every answer documents
the `X-Request-ID` it carries, and the 503s their `Retry-After`. The contact is the author.
"""

from copy import deepcopy
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from .about import AUTHOR, AUTHOR_EMAIL
from .errors import BODY_ERROR_STATUSES, VALIDATION_STATUS
from .logs import REQUEST_ID_HEADER

REQUEST_ID = {
    "description": "The request's id, as sent if it was a sane token, else generated; in the logs",
    "required": True,
    "schema": {"type": "string"},
}
RETRY_AFTER = {
    "description": "Seconds to wait before retrying",
    "required": True,
    "schema": {"type": "integer"},
}
ERROR_DETAIL = "#/components/schemas/ErrorDetail"
WRITING_METHODS = {"delete", "patch", "post", "put"}
# What errors.py answers for any route of the kind: `NotFound`, and `Conflict` or a write the data
# refuses (a unique value taken, a referenced row missing).
NOT_FOUND = {
    "description": "Nothing exists at this path",
    "content": {"application/json": {"schema": {"$ref": ERROR_DETAIL}}},
}
CONFLICT = {
    "description": "The request conflicts with the data as it is",
    "content": {"application/json": {"schema": {"$ref": ERROR_DETAIL}}},
}


def operation_id(route: APIRoute) -> str:
    return route.name


def install_openapi(app: FastAPI) -> None:
    """Refine the document FastAPI builds, once, when it is first asked for."""
    build = app.openapi

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            refine(build())  # FastAPI keeps what it built in app.openapi_schema
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def refine(schema: dict[str, Any]) -> None:
    # Not FastAPI(contact=...): it checks the email with email-validator, which the service
    # does not otherwise need, and logs a warning without it.
    schema["info"]["contact"] = {"name": AUTHOR, "email": AUTHOR_EMAIL}
    for path in schema.get("paths", {}).values():
        for method, operation in path.items():
            responses: dict[str, Any] = operation["responses"]
            parameters: list[dict[str, Any]] = operation.get("parameters", [])
            takes_body = "requestBody" in operation
            if not takes_body:
                for body_error in BODY_ERROR_STATUSES:
                    responses.pop(str(body_error), None)
                if not parameters:
                    responses.pop(str(VALIDATION_STATUS), None)
            if any(parameter["in"] == "path" for parameter in parameters):
                responses.setdefault("404", deepcopy(NOT_FOUND))
            if method in WRITING_METHODS:
                responses.setdefault("409", deepcopy(CONFLICT))
            operation["responses"] = responses = dict(sorted(responses.items()))
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    _as_json(response)
                headers = response.setdefault("headers", {})
                headers[REQUEST_ID_HEADER] = REQUEST_ID
                if status == "503" and _schema_ref(response) == ERROR_DETAIL:
                    headers["Retry-After"] = RETRY_AFTER


def _as_json(response: dict[str, Any]) -> None:
    """FastAPI documents every answer in the route's media type (text for a PlainTextResponse
    route); the error handlers answer JSON whatever the route sends."""
    content: dict[str, Any] = response.get("content", {})
    if content and "application/json" not in content:
        response["content"] = {"application/json": next(iter(content.values()))}


def _schema_ref(response: dict[str, Any]) -> str | None:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    ref: str | None = schema.get("$ref")
    return ref

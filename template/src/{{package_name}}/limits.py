"""Request bodies: a size limit, a time limit, and JSON held to rules Python's parser does not
enforce.

Bodies are read here, before routing: more than `MAX_BODY_BYTES` is refused with 413 as soon
as the `Content-Length` or the bytes received so far exceed it, so nothing oversize is parsed.
A body not received within `BODY_TIMEOUT_SECONDS` is refused with 408: a client that stalls
mid-body would otherwise hold its connection and buffered bytes for as long as it likes.
A JSON body must be UTF-8 (no BOM) and hold no NaN/Infinity, no number that overflows a float,
no lone surrogate and no duplicate key (the rule: duplicates are an error, never "last one wins").
Offenders get the shape of any validation error (400 when the body is not JSON, else 422),
naming where the problem is. (A body sent as another media type is errors.py's: 415.)
"""

import asyncio
import json
import math
import re
from collections.abc import Iterator
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import is_json, safe_text, validation_status

Location = tuple[str | int, ...]
# Where an item sits in the body: its parent's link and its key or index (None: the body).
_Link = tuple["_Link", str | int] | None
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class BodyTooLarge(Exception):
    pass


class BodyGuardMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, body_timeout_seconds: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_seconds = body_timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The first of repeated headers, as Starlette and FastAPI read them: the body is checked
        # under the content type FastAPI will parse it by.
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return
        try:
            async with asyncio.timeout(self.body_timeout_seconds):
                body = await self._read(receive)
        except BodyTooLarge:
            await self._too_large(scope, receive, send)
            return
        except TimeoutError:
            await self._too_slow(scope, receive, send)
            return
        content_type = headers.get("content-type")
        # FastAPI parses a body without content type as JSON unless its `strict_content_type`
        # is on (the default of recent releases): checked either way.
        if body and (content_type is None or is_json(content_type)):
            problem = json_problem(body)
            if problem is not None:
                status = validation_status([problem])
                await JSONResponse({"detail": [problem]}, status_code=status)(scope, receive, send)
                return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = (
            f"Request body is larger than {self.max_body_bytes} bytes (MAX_BODY_BYTES): "
            "send a smaller one"
        )
        response = JSONResponse({"detail": detail}, status_code=413)
        await response(scope, receive, send)

    async def _too_slow(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = (
            f"Request body did not arrive within {self.body_timeout_seconds:g} s "
            "(BODY_TIMEOUT_SECONDS): send it at once"
        )
        # The rest of the body may still come: this connection cannot carry another request.
        headers = {"Connection": "close"}
        response = JSONResponse({"detail": detail}, status_code=408, headers=headers)
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body was read already: hand it over once, then pass through (disconnects)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class _NonFinite:
    def __init__(self, text: str) -> None:
        self.text = text


class _DuplicateKeys(dict[str, Any]):
    duplicate: str


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            duplicated = _DuplicateKeys(found)
            duplicated.duplicate = key
            return duplicated
        found[key] = value
    return found


def json_problem(body: bytes) -> dict[str, Any] | None:
    """The first problem in a JSON body, as a validation error item, or None if it is sound."""
    # FastAPI's parser also takes UTF-16, UTF-32 and a UTF-8 BOM, which the checks below would
    # not see through (a duplicate key sent as UTF-16 won): JSON is UTF-8, without a BOM.
    if json.detect_encoding(body) != "utf-8":
        message = "Body is not UTF-8 (a BOM, UTF-16 or UTF-32): send JSON as UTF-8"
        return _error("json_invalid", ("body", 0), message, None)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        return _error("json_invalid", ("body", error.start), "Body is not valid UTF-8", None)
    suspect = False  # the walk below costs more than the parse: only when there is a reason

    def constant(text: str) -> _NonFinite:
        nonlocal suspect
        suspect = True
        return _NonFinite(text)

    def number(text: str) -> float | _NonFinite:
        value = float(text)
        return value if math.isfinite(value) else constant(text)

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal suspect
        found = _object(pairs)
        suspect = suspect or isinstance(found, _DuplicateKeys)
        return found

    try:
        value = json.loads(
            text, parse_constant=constant, parse_float=number, object_pairs_hook=unique_keys
        )
    except json.JSONDecodeError:
        return None  # FastAPI reports malformed JSON itself, with the position
    except RecursionError:
        return _error("json_invalid", ("body",), "JSON is nested too deeply", None)
    except ValueError:  # an integer of more digits than Python converts (4300)
        return _error("json_invalid", ("body",), "JSON holds a number with too many digits", None)
    # Decoded strictly above, a lone surrogate can only come from a `\\udXXX` escape.
    if not suspect and not _SURROGATE_ESCAPE.search(text):
        return None
    for link, item in _walk(value):
        if isinstance(item, _NonFinite):
            message = "Input should be a finite number; JSON has no NaN or Infinity"
            return _error("finite_number", _location(link), message, item.text)
        if isinstance(item, _DuplicateKeys):
            message = f"Duplicate key {safe_text(item.duplicate)!r}: send each key once"
            return _error("json_duplicate_key", _location(link), message, None)
        if isinstance(item, str) and not _is_unicode(item):
            message = "String holds a lone UTF-16 surrogate (\\ud800-\\udfff): not valid Unicode"
            return _error("string_unicode", _location(link), message, item)
    return None


def _walk(value: Any) -> Iterator[tuple[_Link, Any]]:
    # Depth first, in document order, with a stack of iterators: memory grows with the depth,
    # not the size, and a body nested to the parser's limit cannot exhaust Python's stack. Each
    # item carries a link to its parent's location, not a copy of it: copies cost depth x items
    # (gigabytes for a 1 MB body nested 900 deep); the one location reported is built at the end.
    stack: list[Iterator[tuple[_Link, Any]]] = [iter([(None, value)])]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        yield entry
        link, item = entry
        if isinstance(item, dict):
            stack.append(_members(link, item))
        elif isinstance(item, list):
            stack.append(_elements(link, item))


def _elements(link: _Link, item: list[Any]) -> Iterator[tuple[_Link, Any]]:
    for index, element in enumerate(item):
        yield (link, index), element


def _members(link: _Link, item: dict[str, Any]) -> Iterator[tuple[_Link, Any]]:
    for key, member in item.items():
        yield (link, key), key  # keys are checked too (lone surrogates)
        yield (link, key), member


def _location(link: _Link) -> Location:
    parts: list[str | int] = []
    while link is not None:
        link, part = link
        parts.append(part if isinstance(part, int) else safe_text(part))
    return ("body", *reversed(parts))


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _error(kind: str, location: Location, message: str, given: str | None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": kind, "loc": list(location), "msg": message}
    if given is not None:
        error["input"] = safe_text(given)
    return error

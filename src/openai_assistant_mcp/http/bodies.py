"""Request bodies at the door: read whole (at most MAX_REQUEST_BODY_BYTES, within
HTTP_READ_TIMEOUT) whatever the method and framing, or streamed to the app on a server's large
body routes (the REST API's uploads: engine/serve.py) with their own cap and a deadline; and
JSON nesting checked without recursion. Used by the guard (guard.py) of both servers."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass

from .asgi import Message, Receive, Scope, header


class BodyRefused(Exception):
    """A request body over its size cap (413) or not delivered in time (408); each server
    renders it in its own error format."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = "request_too_large" if status == 413 else "request_timeout"


@dataclass(frozen=True)
class BodyRoute:
    """A route whose request bodies may exceed MAX_REQUEST_BODY_BYTES. Its body is streamed
    to the app (never buffered here), which must read it chunk by chunk."""

    method: str
    path: re.Pattern[str]
    limit: int


MIB = 1024 * 1024
# A streamed body must keep coming at this rate on average (its deadline grows with its cap).
MIN_STREAMED_BYTES_PER_SECOND = 256 * 1024


def large_body_route(scope: Scope, routes: tuple[BodyRoute, ...]) -> BodyRoute | None:
    """The entry of `routes` for this request, if any."""
    method, path = scope.get("method"), scope.get("path", "")
    for route in routes:
        if route.method == method and route.path.fullmatch(path):
            return route
    return None


def _declared_length(scope: Scope) -> int | None:
    declared = header(scope, b"content-length")
    return int(declared) if declared is not None and declared.isdigit() else None


async def read_body(scope: Scope, receive: Receive, limit: int, within: float) -> Receive:
    """Read the whole body (at most `limit` bytes, within `within` seconds), whatever the
    method and framing; returns a receive that replays it. A slow or oversized body is refused
    before the app sees it."""
    return (await buffer_body(scope, receive, limit, within))[1]


async def buffer_body(
    scope: Scope, receive: Receive, limit: int, within: float
) -> tuple[bytes, Receive]:
    """As read_body, also returning the body's bytes."""
    declared = _declared_length(scope)
    if declared is not None and declared > limit:
        raise BodyRefused(413, _too_large(limit))
    chunks: list[bytes] = []
    size = 0
    trailing: list[Message] = []
    try:
        async with asyncio.timeout(within):
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    trailing.append(message)
                    break
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise BodyRefused(413, _too_large(limit))
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
    except TimeoutError:
        raise BodyRefused(408, _too_slow(within)) from None
    body = b"".join(chunks)
    replay = [{"type": "http.request", "body": body, "more_body": False}, *trailing]

    async def replaying() -> Message:
        return replay.pop(0) if replay else await receive()

    return body, replaying


def nested_deeper_than(body: bytes, limit: int) -> bool:
    """Whether a JSON body nests arrays/objects deeper than `limit` (a body that is not JSON
    is left to the app's parser). Deep nesting would exhaust recursion in parsers and
    validators; the bracket count screens out nearly every body at no cost."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    try:
        data = json.loads(body)
    except RecursionError:
        return True
    except ValueError:
        return False
    level = [(data, 0)]  # iterative: the point is not to recurse
    while level:
        value, depth = level.pop()
        if depth > limit:
            return True
        if isinstance(value, dict):
            level.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            level.extend((item, depth + 1) for item in value)
    return False


def streamed_body(scope: Scope, receive: Receive, limit: int, idle: float) -> Receive:
    """A receive that passes the body on as it comes, raising BodyRefused once it exceeds
    `limit` (413), a chunk takes over `idle` seconds, or the whole body falls below
    MIN_STREAMED_BYTES_PER_SECOND (408). Memory stays one chunk whatever the size."""
    declared = _declared_length(scope)
    if declared is not None and declared > limit:
        raise BodyRefused(413, _too_large(limit, "this route's cap"))
    loop = asyncio.get_running_loop()
    within = idle + (declared if declared is not None else limit) / MIN_STREAMED_BYTES_PER_SECOND
    deadline = loop.time() + within
    state = {"size": 0, "done": False}

    async def receiving() -> Message:
        if state["done"]:
            return await receive()  # after the body: only a disconnect is left to wait for
        try:
            async with asyncio.timeout(min(idle, max(deadline - loop.time(), 0.0))):
                message = await receive()
        except TimeoutError:
            raise BodyRefused(408, _too_slow(within)) from None
        if message["type"] != "http.request":
            state["done"] = True
            return message
        state["size"] += len(message.get("body", b""))
        if state["size"] > limit:
            raise BodyRefused(413, _too_large(limit, "this route's cap"))
        state["done"] = not message.get("more_body", False)
        return message

    return receiving


def _too_slow(within: float) -> str:
    return f"The request body did not arrive within {within:g} seconds (HTTP_READ_TIMEOUT)."


def _too_large(limit: int, cap: str = "MAX_REQUEST_BODY_BYTES") -> str:
    return f"Request body too large: at most {limit} bytes ({cap})."

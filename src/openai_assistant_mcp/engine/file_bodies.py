"""Large request bodies (file uploads) on the REST API's socket: handed to the app message by
message with their own cap, instead of read whole into memory like every other body."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]

_MULTIPART_SLACK = 1024 * 1024  # room for the form's boundaries and other fields
# (POST path pattern, largest body): OpenAI's limits, 512 MB per file and 64 MB per upload part.
STREAMED_ROUTES = (
    (re.compile(r"^/v1/files/?$"), 512 * 1024 * 1024 + _MULTIPART_SLACK),
    (re.compile(r"^/v1/uploads/[^/]+/parts/?$"), 64 * 1024 * 1024 + _MULTIPART_SLACK),
)


def streamed_limit(scope: Scope) -> int | None:
    """The body cap of a file-upload route (None for every other request)."""
    if scope.get("method") != "POST":
        return None
    path = scope.get("path", "")
    return next((limit for pattern, limit in STREAMED_ROUTES if pattern.match(path)), None)


class StreamedBody:
    """Passes the body through, refusing it past `limit` bytes (413) or when a piece does not
    arrive within `within` seconds (408). A refusal is answered here; the app then sees a
    disconnect and whatever it sends is dropped."""

    def __init__(self, receive: Receive, send: Send, limit: int, within: float) -> None:
        self._receive = receive
        self._send = send
        self.limit = limit
        self.within = within
        self.size = 0
        self.complete = False
        self.refused = False

    async def refuse(self, status: int, message: str) -> None:
        self.refused = True
        code = "request_too_large" if status == 413 else "request_timeout"
        error = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
        raw = json.dumps({"error": error}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(raw)).encode()),
            (b"connection", b"close"),
        ]
        await self._send({"type": "http.response.start", "status": status, "headers": headers})
        await self._send({"type": "http.response.body", "body": raw})

    async def receive(self) -> dict[str, Any]:
        if self.refused:
            return {"type": "http.disconnect"}
        if self.complete:  # after the body: the app only listens for a disconnect
            return await self._receive()
        try:
            async with asyncio.timeout(self.within):
                message = await self._receive()
        except TimeoutError:
            await self.refuse(
                408,
                f"The request body stalled for over {self.within:g} seconds (HTTP_READ_TIMEOUT).",
            )
            return {"type": "http.disconnect"}
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > self.limit:
                await self.refuse(413, too_large(self.limit))
                return {"type": "http.disconnect"}
            self.complete = not message.get("more_body", False)
        return message

    async def send(self, message: dict[str, Any]) -> None:
        if not self.refused:
            await self._send(message)


def too_large(limit: int) -> str:
    return f"Request body too large: at most {limit} bytes for this route."

"""An httpx2 transport that calls an ASGI app in-process and streams its response.

httpx2's own `ASGITransport` waits for the whole response body before returning, which would
hold back a run's server-sent events until the run ends. This one returns as soon as the app
starts its response and hands the body over chunk by chunk; closing the response early tells
the app the client went away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import httpx2

log = logging.getLogger(__name__)

Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]

_END = object()  # the body is complete
_QUEUE_CHUNKS = 64  # body chunks buffered ahead of the reader before the app waits


class _BodyStream(httpx2.AsyncByteStream):
    """The response body, read from the app's `send` calls as they happen."""

    def __init__(self, chunks: asyncio.Queue[Any], app_task: asyncio.Task[None]) -> None:
        self._chunks = chunks
        self._app_task = app_task

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await self._chunks.get()
            if chunk is _END:
                return
            if isinstance(chunk, BaseException):
                raise httpx2.ReadError("the in-process app failed mid-response") from chunk
            yield chunk

    async def aclose(self) -> None:
        task = self._app_task
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class StreamingASGITransport(httpx2.AsyncBaseTransport):
    """Serves requests with an ASGI app in this process; the response body streams."""

    def __init__(self, app: ASGIApp, client: tuple[str, int] = ("127.0.0.1", 0)) -> None:
        self.app = app
        self.client = client

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(k.lower(), v) for (k, v) in request.headers.raw],
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "server": (request.url.host, request.url.port),
            "client": self.client,
            "root_path": "",
        }
        request_body = request.stream.__aiter__()  # type: ignore[union-attr]
        request_done = False
        response_done = asyncio.Event()
        started: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        chunks: asyncio.Queue[Any] = asyncio.Queue(_QUEUE_CHUNKS)

        async def receive() -> Message:
            nonlocal request_done
            if request_done:
                await response_done.wait()
                return {"type": "http.disconnect"}
            try:
                body = await request_body.__anext__()
            except StopAsyncIteration:
                request_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": body, "more_body": True}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.set_result(message)
            elif message["type"] == "http.response.body" and not response_done.is_set():
                body = message.get("body", b"")
                if body and request.method != "HEAD":
                    await chunks.put(body)
                if not message.get("more_body", False):
                    response_done.set()
                    await chunks.put(_END)

        async def run_app() -> None:
            try:
                await self.app(scope, receive, send)
            except Exception as exc:
                if not started.done():
                    started.set_exception(exc)
                elif not response_done.is_set():
                    response_done.set()
                    await chunks.put(exc)
                else:  # the answer was already complete; only report the failure
                    log.error("in-process app failed after responding: %s", type(exc).__name__)
                return
            if not started.done():
                started.set_exception(RuntimeError("the in-process app sent no response"))
            elif not response_done.is_set():  # returned without finishing its body
                response_done.set()
                await chunks.put(_END)

        app_task = asyncio.create_task(run_app())
        try:
            start = await started
        except BaseException:
            app_task.cancel()
            raise
        return httpx2.Response(
            start["status"],
            headers=start.get("headers", []),
            stream=_BodyStream(chunks, app_task),
            request=request,
        )

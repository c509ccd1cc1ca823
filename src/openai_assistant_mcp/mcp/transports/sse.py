"""The SSE transport (`GET /sse` opens a stream, `POST /messages/?session_id=...` carries the
requests) on the mcp SDK's `SseServerTransport`, with the open streams capped in total and per
client and closed after MCP_SESSION_IDLE_TIMEOUT without a request (sessions.py): an open
stream holds a connection, so idle ones must not be able to take every connection slot."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import anyio

from ..sessions import Entry, SessionTable, client_of
from .guarded import transport_security

if TYPE_CHECKING:
    from mcp.server.lowlevel import Server
    from starlette.applications import Starlette
    from starlette.types import Message, Receive, Scope, Send

    from ...settings import Settings

_SESSION_ID = re.compile(rb"session_id=([0-9a-f]{1,64})")


def sse_app(server: Server[Any], settings: Settings) -> Starlette:
    """GET /sse opens the event stream, POST /messages/ carries requests."""
    from mcp.server.sse import SseServerTransport
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    sse = SseServerTransport(
        "/messages/",
        security_settings=transport_security(settings),
        max_request_body_size=settings.max_request_body_bytes,
    )
    # Streams hold connections: at most half of them, so newcomers always find a slot.
    limit = min(settings.max_sessions, max(1, settings.http_max_connections // 2))
    streams = SessionTable(limit, settings.max_sessions_per_client)
    idle_timeout = settings.session_idle_timeout

    class SseEndpoint:
        """GET /sse as a plain ASGI app: the stream's response is the SDK transport's own."""

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            idle = anyio.CancelScope(deadline=anyio.current_time() + idle_timeout)

            def used() -> None:
                idle.deadline = anyio.current_time() + idle_timeout

            key = f"stream-{id(idle)}"  # until the SDK tells the stream its session ID
            entry = Entry(client_of(scope), close=idle.cancel, on_use=used)
            if not streams.admit(key, entry):
                body = {"error": "Too many open SSE streams; retry shortly."}
                await JSONResponse(body, 503, {"retry-after": "5"})(scope, receive, send)
                return

            async def sending(message: Message) -> None:
                nonlocal key
                found = key.startswith("stream-") and _SESSION_ID.search(message.get("body", b""))
                if found:
                    # The first event names the session's POST URL: key the stream by its ID.
                    still_open = streams.entries.pop(key, None) is not None
                    key = found.group(1).decode()
                    if still_open:
                        streams.entries[key] = entry
                await send(message)

            try:
                with idle:
                    async with sse.connect_sse(scope, receive, sending) as (read, write):
                        await server.run(read, write, server.create_initialization_options())
            except ValueError:  # refused by the transport's checks; it already answered
                pass
            finally:
                streams.remove(key)

    async def post_message(scope: Scope, receive: Receive, send: Send) -> None:
        """A request for a stream: counts as the stream's use (eviction order, idle time)."""
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        session_id = (query.get("session_id") or [""])[0]
        streams.touch(session_id)
        await sse.handle_post_message(scope, receive, send)

    return Starlette(
        routes=[
            Route("/sse", endpoint=SseEndpoint(), methods=["GET"]),
            Mount("/messages/", app=post_message),
        ]
    )

"""Streamable HTTP (`/mcp`) on the SDK's session manager, each request answered in the cheapest
form the MCP spec allows.

With the handshake protocol revisions (2025-xx: `initialize`, then `Mcp-Session-Id`), the SDK
answers every request POST either with an SSE stream (four tasks, memory streams and a ping
timer per request: ~40 % of the server's CPU for a short call) or, in its JSON-response mode,
with one JSON body and every notification dropped. The spec lets the server choose per request,
so here a request gets SSE only when it may need it: it asked for progress (`progressToken`),
or it is a tool call that waits on a run (the stream's pings keep proxies from timing out a
long silent call). Everything else (initialize, tools/list, short tool calls) gets plain JSON.

Requests in protocol 2026-07-28 (no session) take the SDK's single-exchange path unchanged; it
already answers with JSON unless the handler sends a notification.

This overrides the SDK's private `_handle_post_request` and copies its `_admit_session`: the SDK
is pinned exactly (pyproject.toml); a new release means re-reading both against its source.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from starlette.applications import Starlette
from starlette.routing import Route

from ..sessions import Entry, SessionTable, client_of

if TYPE_CHECKING:
    from mcp.server.auth.middleware.bearer_auth import AuthorizationContext
    from mcp.server.lowlevel import Server
    from starlette.requests import Request
    from starlette.types import Receive, Scope, Send

# The client (sessions.client_of) of the request being handled, for the session table.
_client: ContextVar[str] = ContextVar("client", default="")
# Whether the request being handled is answered with an SSE stream. The default (outside a
# request POST: the session's message router, GET streams) keeps the SDK's streaming behaviour.
_streamed: ContextVar[bool] = ContextVar("streamed", default=True)


def wants_stream(body: bytes, waits: Callable[[str], bool]) -> bool:
    """Whether a POST body needs an SSE answer: a request with a progressToken, or a call of a
    tool for which `waits(name)` is true. Anything unreadable goes to the SDK's own checks."""
    try:
        message = json.loads(body)
    except ValueError:
        return False
    params = message.get("params") if isinstance(message, dict) else None
    if not isinstance(params, dict):
        return False
    meta = params.get("_meta")
    if isinstance(meta, dict) and meta.get("progressToken") is not None:
        return True
    name = params.get("name")
    return message.get("method") == "tools/call" and isinstance(name, str) and waits(name)


class PerRequestTransport(StreamableHTTPServerTransport):
    """The SDK's session transport, choosing JSON or SSE for each request POST."""

    def __init__(self, *args: Any, waits: Callable[[str], bool], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waits = waits

    @property
    def is_json_response_enabled(self) -> bool:
        return not _streamed.get()

    @is_json_response_enabled.setter
    def is_json_response_enabled(self, value: bool) -> None:
        """Ignored (the SDK's constructor sets it): chosen per request instead."""

    async def _handle_post_request(
        self, scope: Scope, request: Request, receive: Receive, send: Send
    ) -> None:
        # Starlette keeps the body, so the SDK reads the same bytes again without I/O.
        token = _streamed.set(wants_stream(await request.body(), self._waits))
        try:
            await super()._handle_post_request(scope, request, receive, send)
        finally:
            _streamed.reset(token)


class PerRequestSessionManager(StreamableHTTPSessionManager):
    """The SDK's session manager, opening sessions on `PerRequestTransport`, with room made
    for newcomers by closing idle sessions (sessions.py)."""

    def __init__(
        self, *args: Any, waits: Callable[[str], bool], max_sessions_per_client: int, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._waits = waits
        self.table = SessionTable(self.max_sessions or 2**31, max_sessions_per_client)

    async def _handle_stateful_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in scope.get("headers", ()):
            if name == b"mcp-session-id":
                self.table.touch(value.decode("latin-1"))
        token = _client.set(client_of(scope))
        try:
            await super()._handle_stateful_request(scope, receive, send)
        finally:
            _client.reset(token)

    def _admit_session(
        self, requestor: AuthorizationContext | None
    ) -> StreamableHTTPServerTransport | None:
        # As the SDK's own (mcp 2.3), with the transport class swapped and the session table
        # deciding whether there is room.
        transport = PerRequestTransport(
            mcp_session_id=uuid4().hex,
            event_store=self.event_store,
            security_settings=self.security_settings,
            retry_interval=self.retry_interval,
            idle_timeout=self.session_idle_timeout,
            waits=self._waits,
        )
        session_id = transport.mcp_session_id
        assert session_id is not None
        entry = Entry(
            _client.get(),
            close=lambda: self._close_idle(session_id, transport),
            # Busy: serving a request (or an open GET stream), or not started yet.
            busy=lambda: transport._requests_in_flight > 0 or transport.idle_scope is None,
        )
        if not self.table.admit(session_id, entry):
            return None
        if requestor is not None:
            self._session_owners[session_id] = requestor
        self._server_instances[session_id] = transport
        return transport

    def _close_idle(self, session_id: str, transport: StreamableHTTPServerTransport) -> None:
        """Forget the session now (its ID answers 404) and end its server task."""
        self._server_instances.pop(session_id, None)
        self._session_owners.pop(session_id, None)
        if transport.idle_scope is not None:
            transport.idle_scope.cancel()

    async def _discard_session(
        self, session_id: str, transport: StreamableHTTPServerTransport
    ) -> None:
        self.table.remove(session_id)
        await super()._discard_session(session_id, transport)


def streamable_http_app(
    server: Server[Any], waits: Callable[[str], bool], path: str = "/mcp", **options: Any
) -> Starlette:
    """The streamable HTTP app at `path`; `options` go to the session manager (security,
    body and session limits)."""
    manager = PerRequestSessionManager(app=server, waits=waits, **options)
    return Starlette(
        routes=[Route(path, endpoint=StreamableHTTPASGIApp(manager))],
        lifespan=lambda app: manager.run(),
    )

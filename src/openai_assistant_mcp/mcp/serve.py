"""Serving MCP: stdio, SSE (`/sse`) or streamable HTTP (`/mcp`), as TRANSPORT says; the HTTP
transports behind the HTTP guards, their SDK overrides in transports/."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import TYPE_CHECKING, Any, cast

import anyio

from .app import ToolServer
from .backend import Phase
from .startup import check_start
from .transports.guarded import check_exposure, serve_guarded, streamable_http_options

if TYPE_CHECKING:
    from mcp.server.lowlevel import Server

    from ..settings import Settings

log = logging.getLogger(__name__)


async def serve(settings: Settings) -> None:
    """Serve MCP on the configured transport until the client (stdio) or a signal ends it."""
    if settings.credentials_passthrough and settings.transport == "stdio":
        raise SystemExit(
            "MCP_CREDENTIALS_PASSTHROUGH needs an HTTP transport (sse or streamable-http): "
            "stdio has no request headers to carry keys."
        )
    check_exposure(settings)
    check_start(settings)
    tools = ToolServer(settings)
    server = tools.lowlevel_server()
    backend = tools.backend
    failed = False
    async with anyio.create_task_group() as group:
        group.start_soon(backend.run)
        try:
            if settings.transport == "stdio":
                await _serve_stdio(server)
            else:
                backend.want()
                if await backend.ready():
                    await _serve_http(settings, server, tools)
                else:
                    failed = True  # said in one line by the backend
        finally:
            backend.close()
    if failed:  # out here: raised in the task group, it would come with a traceback
        raise SystemExit(1)


async def _serve_stdio(server: Server[Any]) -> None:
    from .stdio import stdio_pipes

    async with stdio_pipes() as pipes:
        if pipes is None:  # not pipes: the SDK's own files (a worker thread per read, write)
            from mcp.server.stdio import stdio_server

            async with stdio_server() as (read, write):
                await server.run(read, write, server.create_initialization_options())
        else:
            await serve_stdio_pipes(server, *pipes)


async def serve_stdio_pipes(
    server: Server[Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """MCP over a pipe pair read and written on the event loop (stdio.py)."""
    from mcp.server.stdio import stdio_server

    from .stdio import StdinLines, StdoutText

    # The SDK reads `async for line in stdin` and calls `write`/`flush`: duck-typed files.
    stdin = cast("anyio.AsyncFile[str]", StdinLines(reader))
    stdout = cast("anyio.AsyncFile[str]", StdoutText(writer))
    async with stdio_server(stdin=stdin, stdout=stdout) as (read, write):
        await server.run(read, write, server.create_initialization_options())


async def _serve_http(settings: Settings, server: Server[Any], tools: ToolServer) -> None:
    """Serve behind the guard (transports/guarded.py); on SIGTERM, tool calls in flight finish."""
    if settings.transport == "sse":
        from .transports.sse import sse_app

        app, path = sse_app(server, settings), "/sse"
    else:
        from .transports.streamable_http import streamable_http_app

        path = "/mcp"
        app = streamable_http_app(server, tools.waits, path, **streamable_http_options(settings))
    # What is alive now (modules, schemas, the API client) lives as long as the server: frozen,
    # the garbage collector stops re-scanning it, ~5 % of a short call's CPU under load.
    gc.freeze()
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    log.info("MCP over %s at http://%s:%d%s", settings.transport, host, settings.port, path)
    await serve_guarded(
        app, settings, lambda: tools.limiter.in_flight, health=lambda: _healthy(tools, settings)
    )


async def _healthy(tools: ToolServer, settings: Settings) -> bool:
    """GET /healthz: the backend is open and, embedded, its store answers (the cheapest call
    that reads it: one assistant of the keyless tenant, never shown). A remote API's health is
    its own to tell."""
    if tools.backend.phase is not Phase.READY:
        return False
    if settings.embedded:
        api = await tools.backend.api()
        await api.beta.assistants.list(limit=1)
    return True


def run(settings: Settings) -> None:
    anyio.run(serve, settings)

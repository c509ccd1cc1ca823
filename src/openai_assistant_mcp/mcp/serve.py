"""Serving MCP: stdio, SSE (`/sse`) or streamable HTTP (`/mcp`), as TRANSPORT says; the HTTP
transports behind the HTTP guards, their SDK overrides in transports/."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import anyio

from .backend import Phase
from .startup import check_start
from .stdio import StdinLines, StdoutText
from .transports.guarded import check_exposure, serve_guarded, streamable_http_options

if TYPE_CHECKING:
    from mcp.server.lowlevel import Server

    from ..settings import Settings
    from .app import ToolServer

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
    if settings.transport == "stdio":
        await _serve_stdio(settings)
        return
    from .app import ToolServer

    tools = ToolServer(settings)
    failed = False
    async with _backend_running(tools):
        tools.backend.want()
        if await tools.backend.ready():
            await _serve_http(settings, tools.lowlevel_server(), tools)
        else:
            failed = True  # said in one line by the backend
    if failed:  # out here: raised in the task group, it would come with a traceback
        raise SystemExit(1)


@asynccontextmanager
async def _backend_running(tools: ToolServer) -> AsyncIterator[None]:
    async with anyio.create_task_group() as group:
        group.start_soon(tools.backend.run)
        try:
            yield
        finally:
            tools.backend.close()


async def _serve_stdio(settings: Settings) -> None:
    """stdio: the first message is read (and a handshake answered, handshake.py) while the
    MCP SDK is imported in a thread."""
    from platformdirs import user_cache_dir

    from .handshake import Handshake, KeptAnswers
    from .stdio import read_line, stdio_pipes

    async with stdio_pipes() as pipes:
        if pipes is None:  # not pipes: the SDK's own files (a worker thread per read, write)
            from mcp.server.stdio import stdio_server

            from .app import ToolServer

            tools = ToolServer(settings)
            async with _backend_running(tools), stdio_server() as (read, write):
                server = tools.lowlevel_server()
                await server.run(read, write, server.create_initialization_options())
            return
        reader, writer = pipes
        async with anyio.create_task_group() as group:
            loaded = anyio.Event()

            async def load() -> None:
                await anyio.to_thread.run_sync(_import_sdk)
                loaded.set()

            group.start_soon(load)
            first = await read_line(reader)
            # Remote mode keeps no data of its own in DATA_DIR: the answers go to the cache dir.
            kept_in = (
                settings.data_dir
                if settings.embedded
                else Path(user_cache_dir("openai-assistant-mcp", appauthor=False))
            )
            handshake = Handshake(first, KeptAnswers(kept_in))
            if handshake.early:
                writer.write(handshake.early.encode() + b"\n")
            await loaded.wait()
        if first is None:
            return
        from .app import ToolServer

        tools = ToolServer(settings)
        async with _backend_running(tools):
            await serve_stdio_pipes(
                tools.lowlevel_server(),
                StdinLines(reader, [first]),
                StdoutText(writer, handshake.outgoing),
            )


def _import_sdk() -> None:
    """What serving stdio needs beyond the handshake: the MCP SDK and the tools."""
    import mcp.server.stdio  # noqa: F401

    from . import app  # noqa: F401


async def serve_stdio_pipes(server: Server[Any], stdin: StdinLines, stdout: StdoutText) -> None:
    """MCP over a pipe pair read and written on the event loop (stdio.py)."""
    from mcp.server.stdio import stdio_server

    # The SDK reads `async for line in stdin` and calls `write`/`flush`: duck-typed files.
    files = cast("anyio.AsyncFile[str]", stdin), cast("anyio.AsyncFile[str]", stdout)
    async with stdio_server(*files) as (read, write):
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
    if tools.backend.engine_app is not None and settings.console_enabled:
        log.info("web console at http://%s:%d/ui/ (REST API under /v1)", host, settings.port)
    await serve_guarded(
        app,
        settings,
        lambda: tools.limiter.in_flight,
        health=lambda: _healthy(tools, settings),
        engine_app=tools.backend.engine_app,
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

"""The MCP server: the registry's tools on the mcp SDK's low-level server, over stdio, SSE
(`/sse`) or streamable HTTP (`/mcp`).

The low-level server gives full control of the wire: `tools/list` is computed once (compact,
inlined schemas, no output schemas) and `tools/call` validates with the tool's argument model,
sets the caller's key for the call, and turns API failures into one-line tool errors.
"""

from __future__ import annotations

import gc
import logging
import os
import re
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from pydantic import ValidationError

from ..http.limits import LimitExceeded
from ..settings import Settings
from .client import call_api_key
from .local_files import LocalFileRefused, client_roots, open_allowed
from .startup import check_start
from .tools.common import Call, ToolResult, describe_validation_error
from .tools.registry import ToolSpec, select_tools
from .transports.guarded import check_exposure, serve_guarded, streamable_http_options

if TYPE_CHECKING:
    from mcp.server.context import ServerRequestContext
    from openai import AsyncOpenAI
    from starlette.datastructures import Headers

log = logging.getLogger(__name__)

SERVER_NAME = "openai-assistant-mcp"
INSTRUCTIONS = (
    "Manage and run Assistants-API assistants. Typical flow: create_assistant (or "
    "list_assistants), create_thread, create_message, create_run; create_run waits and returns "
    "the answer. If it returns tool_calls, run those functions yourself and send the results "
    "with submit_tool_outputs. Read a conversation with list_messages."
)
KEY_HEADER = "x-openai-api-key"
LOCAL_FILE_MAX = 512 * 1024 * 1024  # the Files API's limit per file
# OpenAI-style keys, possibly partly masked, as they can appear in upstream error messages.
_KEY_PATTERN = re.compile(r"\b(sk|key)-[A-Za-z0-9_\-*]{6,}")


class ToolError(Exception):
    """A refusal to report to the caller as a tool error (one line)."""


def key_from_headers(headers: Headers | None) -> str | None:
    """The caller's key: `X-OpenAI-API-Key`, else `Authorization: Bearer <key>`."""
    if headers is None:
        return None
    key = headers.get(KEY_HEADER, "").strip()
    if key:
        return key
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def redact(text: str, key: str | None) -> str:
    """`text` on one line, without the caller's key or anything shaped like a key."""
    if key:
        text = text.replace(key, "***")
    return _KEY_PATTERN.sub(r"\1-***", " ".join(text.split()))


def describe_error(exc: BaseException) -> str:
    """One line naming the cause of a failed API call."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error", body) if isinstance(body, dict) else {}
        message = (error.get("message") if isinstance(error, dict) else None) or exc.message
        return f"Assistants API error {exc.status_code}: {message}"
    if isinstance(exc, openai.APIConnectionError):
        reason = _refusal_reason(exc)
        if reason:  # checked first: aiohttp reports a refused connection as a connect time-out
            return f"Could not reach the Assistants API ({reason})."
        if isinstance(exc, openai.APITimeoutError):
            return "The Assistants API did not answer in time."
        cause = exc.__cause__ or exc
        return f"Could not reach the Assistants API ({type(cause).__name__})."
    if isinstance(exc, openai.APIError):
        return f"Assistants API error: {exc.message}"
    # Failures the SDK lets through unwrapped: a body that is not JSON (or was cut short), and
    # a response stream that broke off.
    import json

    import httpx2

    if isinstance(exc, json.JSONDecodeError):
        return "The Assistants API sent a malformed response (not valid JSON)."
    if isinstance(exc, httpx2.TimeoutException):
        return "The Assistants API did not answer in time."
    if isinstance(exc, httpx2.TransportError):
        return f"The connection to the Assistants API broke off ({type(exc).__name__})."
    return f"Internal error ({type(exc).__name__}); the server log has details."


def _refusal_reason(exc: BaseException) -> str | None:
    """The OS's reason a connection could not be made ("Connection refused"), if that is the
    cause of `exc`; None for time-outs and other failures."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and not isinstance(cause, TimeoutError) and cause.errno:
            return os.strerror(cause.errno)
        cause = cause.__cause__
    return None


class ToolServer:
    """Serves the selected tools with one shared API client, opened in the background."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tools = select_tools(settings.toolsets, settings.read_only)
        self._by_name = {spec.name: spec for spec in self.tools}
        self._listing = types.ListToolsResult(tools=[self._listed(s) for s in self.tools])
        self._api: AsyncOpenAI | None = None
        self._start_failure: str | None = None
        self._wanted = anyio.Event()
        self._ready = anyio.Event()
        self._stop = anyio.Event()
        self.limiter = settings.limiter("tool calls")  # per API key: engine/http_policy.py

    def _listed(self, spec: ToolSpec) -> types.Tool:
        listing = spec.listing()
        timeout = listing["inputSchema"]["properties"].get("timeout")
        if timeout is not None:  # the server's configured default wait
            timeout["default"] = self.settings.run_wait_timeout
        return types.Tool.model_validate(listing)

    def lowlevel_server(self) -> Server[Any]:
        server = Server(
            SERVER_NAME,
            version=version("openai-assistant-mcp"),
            instructions=INSTRUCTIONS,
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
            get_tool_input_schema=self.input_schema,
        )
        # The SDK's OpenTelemetry middleware costs ~0.2 ms a call even with no exporter set up.
        server.middleware[:] = [self._want_api_after]
        return server

    async def _want_api_after(self, ctx: ServerRequestContext[Any], call_next: Any) -> Any:
        """Starts the backend once the first message is answered (see hold_api)."""
        try:
            return await call_next(ctx)
        finally:
            self._wanted.set()

    # --- the API client's lifetime --------------------------------------------------------------

    def want_api(self) -> None:
        self._wanted.set()

    async def hold_api(self) -> None:
        """Open the API client (starting the embedded engine) once wanted; keep it until stop().

        Opening imports openai and the engine (about a second of CPU): waiting for the first
        message to be answered keeps that off a stdio client's initialize.
        """
        from .client import open_api

        await self._wanted.wait()
        if self._stop.is_set():
            return
        try:
            # The heavy imports (openai, the engine) run in a thread, so the event loop
            # keeps answering the client (initialize, tools/list) meanwhile.
            await anyio.to_thread.run_sync(_preload, self.settings.embedded)
            if self._stop.is_set():  # the client left while we were importing
                return
            async with open_api(self.settings) as api:
                self._api = api
                self._ready.set()
                await self._stop.wait()
        except Exception as exc:
            log.error("the Assistants backend failed to start: %s", redact(str(exc), None))
            self._start_failure = f"The Assistants backend failed to start ({type(exc).__name__})."
            self._ready.set()
            raise
        finally:
            self._api = None
            self._ready.set()  # waiting calls now learn the server is shutting down

    async def wait_ready(self) -> bool:
        await self._ready.wait()
        return self._start_failure is None

    def stop(self) -> None:
        self._stop.set()
        self._wanted.set()

    # --- MCP handlers ---------------------------------------------------------------------------

    async def list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return self._listing

    def waits(self, name: str) -> bool:
        """Whether the tool `name` may wait on a run."""
        spec = self._by_name.get(name)
        return spec is not None and spec.waits

    def input_schema(self, name: str) -> dict[str, Any] | None:
        spec = self._by_name.get(name)
        return spec.input_schema if spec else None

    async def call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        spec = self._by_name.get(params.name)
        if spec is None:
            return _error_result(f"Unknown tool '{params.name}'.")
        arguments = params.arguments or {}
        if spec.waits and "timeout" not in arguments:
            arguments = {**arguments, "timeout": self.settings.run_wait_timeout}
        try:
            args = spec.args.model_validate(arguments)
        except ValidationError as exc:
            return _error_result(describe_validation_error(exc))
        try:
            key = self._caller_key(ctx)
            api = await self._ready_api()
        except ToolError as exc:
            return _error_result(str(exc))
        open_local = None
        if getattr(args, "path", None) is not None and self.settings.transport == "stdio":
            roots = await client_roots(ctx, params)
            if isinstance(roots, types.InputRequiredResult):
                return roots  # the client answers, then calls again
            open_local = self._local_opener(roots)

        async def progress(amount: float, message: str) -> None:
            try:
                await ctx.session.report_progress(amount, None, message)
            except Exception:  # a gone client must not fail the call itself
                log.debug("progress notification not sent", exc_info=True)

        token = call_api_key.set(key)
        try:
            async with self.limiter.slot(key):
                call = Call(api=api, progress=progress, open_local=open_local)
                result = await spec.handler(call, args)
        except LimitExceeded as exc:
            return _error_result(f"429 Too Many Requests: {exc.message}")
        except LocalFileRefused as exc:
            return _error_result(str(exc))
        except Exception as exc:
            text = redact(describe_error(exc), key)
            if text.startswith("Internal error"):
                log.error("tool %s failed: %s", spec.name, type(exc).__name__, exc_info=exc)
            else:
                log.info("tool %s: %s", spec.name, text)
            return _error_result(text)
        finally:
            call_api_key.reset(token)
        return _result(result, key)

    def _local_opener(self, roots: list[Path]) -> Any:
        """Opens local files under the client's `roots` (asked on each call: they may change)
        or MCP_UPLOAD_DIRS; only ever over stdio."""
        allowed = [*roots, *self.settings.upload_dirs]

        async def open_local(path: str) -> Any:
            return await anyio.to_thread.run_sync(open_allowed, path, allowed, LOCAL_FILE_MAX)

        return open_local

    def _caller_key(self, ctx: ServerRequestContext[Any]) -> str | None:
        """The key this call runs with (None: no Authorization, the engine's keyless tenant).
        One key is one tenant whichever way it arrives: OPENAI_API_KEY in single-user mode,
        the passthrough header, or a REST client's bearer."""
        settings = self.settings
        if settings.credentials_passthrough:
            request = ctx.request
            # This request's own key only: over SSE, the key of the GET that opened the stream
            # is not a fallback (a leaked session ID would run as its owner; docs/clients.md).
            key = key_from_headers(getattr(request, "headers", None))
            if not key:
                raise ToolError(
                    "No API key: send it in the X-OpenAI-API-Key header "
                    "(or Authorization: Bearer) with each request."
                )
            return key
        return settings.provider_api_key.get_secret_value() if settings.provider_api_key else None

    async def _ready_api(self) -> AsyncOpenAI:
        await self._ready.wait()
        if self._api is None:
            raise ToolError(self._start_failure or "The server is shutting down.")
        return self._api


def _preload(embedded: bool) -> None:
    """Imports what the first calls need (the SDK imports its resources lazily, on first use)."""
    import openai.lib.streaming._assistants
    import openai.resources.beta.assistants
    import openai.resources.beta.beta
    import openai.resources.beta.threads.runs.steps  # noqa: F401

    if embedded:
        from ..engine import app  # noqa: F401


def _error_result(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)


def _result(result: ToolResult, key: str | None) -> types.CallToolResult:
    texts = [redact(t, key) for t in result.texts()] if result.is_error else result.texts()
    images = [types.ImageContent(data=data, mime_type=mime) for data, mime in result.images]
    return types.CallToolResult(
        content=[*(types.TextContent(text=text) for text in texts), *images],
        structured_content=result.data,
        is_error=result.is_error,
    )


# --- transports ----------------------------------------------------------------------------------


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
    async with anyio.create_task_group() as group:
        group.start_soon(_hold_quietly, tools)
        try:
            if settings.transport == "stdio":
                from mcp.server.stdio import stdio_server

                async with stdio_server() as (read, write):
                    await server.run(read, write, server.create_initialization_options())
            else:
                tools.want_api()
                if not await tools.wait_ready():
                    raise SystemExit(1)
                await _serve_http(settings, server, tools)
        finally:
            tools.stop()


async def _hold_quietly(tools: ToolServer) -> None:
    try:
        await tools.hold_api()
    except Exception:  # already logged; calls report it as a tool error
        pass


async def _serve_http(settings: Settings, server: Server[Any], tools: ToolServer) -> None:
    """Serve behind the HTTP guards (http_guards.py); on SIGTERM, tool calls in flight finish."""
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
    await serve_guarded(app, settings, lambda: tools.limiter.in_flight)


def run(settings: Settings) -> None:
    anyio.run(serve, settings)

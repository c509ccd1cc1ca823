"""The tools/call pipeline: composable steps between the SDK's handler and a tool's own.

Each step gets the call and the rest of the pipeline (`next`); it may fill in what the call
needs (its validated arguments, the caller's key, the API client), answer by itself (a refusal,
an input request), or wrap the rest (a limiter slot, error mapping). `call_pipeline` lists them
in order; the last step runs the tool's handler and shapes its result.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import anyio
import mcp_types as types
from pydantic import BaseModel, ValidationError

from ..http import credentials
from ..http.credentials import redact
from ..http.limits import LimitExceeded
from .backend import BackendUnavailable
from .client import call_api_key
from .errors import describe_error
from .local_files import LocalFileRefused, client_roots, open_allowed
from .tools.common import Call, ToolResult, describe_validation_error

if TYPE_CHECKING:
    from mcp.server.context import ServerRequestContext
    from openai import AsyncOpenAI

    from ..http.limits import CallerLimiter
    from ..settings import Settings
    from .backend import Backend
    from .tools.spec import ToolSpec

log = logging.getLogger(__name__)

LOCAL_FILE_MAX = 512 * 1024 * 1024  # the Files API's limit per file


@dataclass
class ToolCall:
    """One tools/call on its way through the pipeline; steps fill in what they learn."""

    spec: ToolSpec[Any]
    arguments: dict[str, Any]
    ctx: ServerRequestContext[Any]
    params: types.CallToolRequestParams
    args: BaseModel | None = None
    key: str | None = None
    api: AsyncOpenAI | None = None
    open_local: Callable[[str], Awaitable[tuple[str, BinaryIO]]] | None = None


Answer = types.CallToolResult | types.InputRequiredResult
Next = Callable[[ToolCall], Awaitable[Answer]]
Step = Callable[[ToolCall, Next], Awaitable[Answer]]


def compose(steps: Sequence[Step], last: Next) -> Next:
    """The steps as one function: the first step runs first and calls the next."""
    handler = last
    for step in reversed(steps):
        handler = _bind(step, handler)
    return handler


def _bind(step: Step, rest: Next) -> Next:
    async def bound(call: ToolCall) -> Answer:
        return await step(call, rest)

    return bound


def refusal(text: str) -> types.CallToolResult:
    """A tool error of one line."""
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)


def call_pipeline(settings: Settings, backend: Backend, limiter: CallerLimiter) -> Next:
    """The server's pipeline. Order matters: the argument errors a caller can fix come first,
    and only the tool's own work (with the API) is mapped to API error lines."""
    steps: list[Step] = [
        default_wait(settings.run_wait_timeout),
        validate_arguments,
        caller_key(settings),
        open_backend(backend),
    ]
    if settings.transport == "stdio":
        steps.append(local_files(settings.upload_dirs))
    steps += [map_errors, per_key_limit(limiter)]
    if not settings.result_images:
        steps.insert(0, without_images)
    return compose(steps, run_handler)


# --- the steps -----------------------------------------------------------------------------------


async def without_images(call: ToolCall, next: Next) -> Answer:
    """The result without its images (MCP_RESULT_IMAGES=false): text-only clients such as mcpo
    would hand each one to the model as a base64 string; the summary names the file anyway."""
    answer = await next(call)
    if isinstance(answer, types.CallToolResult):
        answer.content = [c for c in answer.content if not isinstance(c, types.ImageContent)]
    return answer


def default_wait(seconds: float) -> Step:
    """A tool that waits on a run waits `seconds` (RUN_WAIT_TIMEOUT) unless told otherwise."""

    async def step(call: ToolCall, next: Next) -> Answer:
        if call.spec.waits and "timeout" not in call.arguments:
            call.arguments = {**call.arguments, "timeout": seconds}
        return await next(call)

    return step


async def validate_arguments(call: ToolCall, next: Next) -> Answer:
    """The arguments through the tool's model; a refusal names each bad one."""
    try:
        call.args = call.spec.args.model_validate(call.arguments)
    except ValidationError as exc:
        return refusal(describe_validation_error(exc))
    return await next(call)


def caller_key(settings: Settings) -> Step:
    """The key this call runs with (None: no Authorization, the engine's keyless tenant).
    One key is one tenant whichever way it arrives: OPENAI_API_KEY in single-user mode, the
    passthrough header, or a REST client's bearer."""
    configured = settings.provider_api_key.get_secret_value() if settings.provider_api_key else None
    passthrough = settings.credentials_passthrough

    async def step(call: ToolCall, next: Next) -> Answer:
        if passthrough:
            # This request's own key only: over SSE, the key of the GET that opened the stream
            # is not a fallback (a leaked session ID would run as its owner; docs/clients.md).
            call.key = credentials.caller_key(getattr(call.ctx.request, "headers", None))
            if not call.key:
                return refusal(
                    "No API key: send it in the X-OpenAI-API-Key header "
                    "(or Authorization: Bearer) with each request."
                )
        else:
            call.key = configured
        return await next(call)

    return step


def open_backend(backend: Backend) -> Step:
    """The API client, once the backend is ready (the first calls wait for it)."""

    async def step(call: ToolCall, next: Next) -> Answer:
        try:
            call.api = await backend.api()
        except BackendUnavailable as exc:
            return refusal(str(exc))
        return await next(call)

    return step


def local_files(upload_dirs: Sequence[Path]) -> Step:
    """For a tool given a local `path` (stdio only): the files it may open are under the
    client's roots (asked on each call: they may change) or MCP_UPLOAD_DIRS."""

    async def step(call: ToolCall, next: Next) -> Answer:
        if call.spec.reads_local_files and getattr(call.args, "path", None) is not None:
            roots = await client_roots(call.ctx, call.params)
            if isinstance(roots, types.InputRequiredResult):
                return roots  # the client answers, then calls again
            allowed = [*roots, *upload_dirs]

            async def open_local(path: str) -> tuple[str, BinaryIO]:
                return await anyio.to_thread.run_sync(open_allowed, path, allowed, LOCAL_FILE_MAX)

            call.open_local = open_local
        return await next(call)

    return step


async def map_errors(call: ToolCall, next: Next) -> Answer:
    """Failures of the call become one-line tool errors, without the caller's key."""
    try:
        return await next(call)
    except LimitExceeded as exc:
        return refusal(f"429 Too Many Requests: {exc.message}")
    except LocalFileRefused as exc:
        return refusal(str(exc))
    except Exception as exc:
        text = redact(describe_error(exc), call.key)
        if text.startswith("Internal error"):
            log.error("tool %s failed: %s", call.spec.name, type(exc).__name__, exc_info=exc)
        else:
            log.info("tool %s: %s", call.spec.name, text)
        return refusal(text)


def per_key_limit(limiter: CallerLimiter) -> Step:
    """One slot of the caller key's concurrency and rate (http/limits.py)."""

    async def step(call: ToolCall, next: Next) -> Answer:
        async with limiter.slot(
            call.key, gated=not call.spec.waits, write=call.spec.effect != "read"
        ):
            return await next(call)

    return step


async def run_handler(call: ToolCall) -> Answer:
    """The tool's handler, with the caller's key on every API request it makes."""
    ctx = call.ctx
    assert call.api is not None and call.args is not None  # filled in by earlier steps

    async def progress(amount: float, message: str) -> None:
        try:
            await ctx.session.report_progress(amount, None, message)
        except Exception:  # a gone client must not fail the call itself
            log.debug("progress notification not sent", exc_info=True)

    token = call_api_key.set(call.key)
    try:
        tool_call = Call(api=call.api, progress=progress, open_local=call.open_local)
        result = await call.spec.handler(tool_call, call.args)
    finally:
        call_api_key.reset(token)
    return shaped(result, call.key)


def shaped(result: ToolResult, key: str | None) -> types.CallToolResult:
    """A tool's result as MCP content: text blocks (errors redacted), images, structured data."""
    texts = [redact(t, key) for t in result.texts()] if result.is_error else result.texts()
    images = [types.ImageContent(data=data, mime_type=mime) for data, mime in result.images]
    return types.CallToolResult(
        content=[*(types.TextContent(text=text) for text in texts), *images],
        structured_content=result.data,
        is_error=result.is_error,
    )

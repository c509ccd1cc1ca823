"""Runs as MCP tasks: the tasks extension (`io.modelcontextprotocol/tasks`, protocol
2026-07-28) on the SDK's extension surface (`mcp.server.extension`), backed by the run itself.

For a client that declares the extension on its request, `create_run`, `create_thread_and_run`
and `submit_tool_outputs` start the run without waiting and answer with a task handle
(`resultType: "task"`). The task ID names the run (`thread_id/run_id`), so there is no task
state of our own: `tasks/get` reads the run (the caller's tenant, as the tools do) and any server
process on the same store answers it, after a restart too. The run's status is the task's:
`requires_action` is `input_required`, its function calls asked as one form elicitation (a
string field per tool_call_id); `tasks/update` with the answers submits them as tool outputs
(declined: the run is cancelled); `tasks/cancel` is `cancel_run`. A finished run's task result is
the `CallToolResult` the tool returns when it waits (`settle`, as `get_run`).

Clients that do not declare the extension, and every client on an older protocol (the SDK only
delivers extension results on 2026-07-28), get today's waiting tools unchanged.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import mcp_types as types
from mcp.server.extension import Extension, MethodBinding, compose_tool_call_handler
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    RequestParams,
    Result,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from .caller import CallerAPI
from .middleware import shaped
from .tools.common import Call, as_dict
from .tools.run_results import settle

if TYPE_CHECKING:
    from mcp.server.context import ServerRequestContext
    from mcp.server.lowlevel import Server

    from .middleware import Answer

EXTENSION_ID = "io.modelcontextprotocol/tasks"
# The tools whose call may become a task: those that start or continue a run and wait on it.
TASK_TOOLS = frozenset({"create_run", "create_thread_and_run", "submit_tool_outputs"})
# A hint to pollers (ms): a run's rounds with the model take seconds.
POLL_INTERVAL_MS = 1000
# The engine's run IDs and thread IDs (engine/ids.py; an upstream API's look the same).
_ID = r"[A-Za-z0-9_-]{1,64}"
_TASK_ID = re.compile(rf"^({_ID})/({_ID})$")

TaskStatus = Literal["working", "input_required", "completed", "cancelled", "failed"]
_STATUS: dict[str, TaskStatus] = {
    "queued": "working",
    "in_progress": "working",
    "cancelling": "working",
    "requires_action": "input_required",
    "cancelled": "cancelled",
    # A run that ended without an answer is the tool's result, not a JSON-RPC error: the task
    # completed and its result says how the run ended (as the waiting tool's does).
    "completed": "completed",
    "incomplete": "completed",
    "failed": "completed",
    "expired": "completed",
}
# Run timestamps, any of which may be the last change.
_STAMPS = ("created_at", "started_at", "completed_at", "failed_at", "cancelled_at")


class Task(Result):
    """The task fields every answer carries (the extension's `Task`)."""

    task_id: str
    status: TaskStatus
    status_message: str | None = None
    created_at: str
    last_updated_at: str
    ttl_ms: int | None = None
    poll_interval_ms: int | None = POLL_INTERVAL_MS


class CreateTaskResult(Task):
    """A tools/call answered with a task handle."""

    result_type: Literal["task"] = "task"


class DetailedTask(Task):
    """tasks/get's answer: the task, with its pending input requests or its final result."""

    result_type: Literal["complete"] = "complete"
    input_requests: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class TaskParams(RequestParams):
    task_id: str


class TaskUpdateParams(TaskParams):
    input_responses: dict[str, Any]


def task_id(thread_id: str, run_id: str) -> str:
    return f"{thread_id}/{run_id}"


def parse_task_id(value: str) -> tuple[str, str]:
    match = _TASK_ID.match(value)
    if match is None:
        raise MCPError(INVALID_PARAMS, "Failed to retrieve task: Task not found")
    return match.group(1), match.group(2)


def _iso(seconds: int | None) -> str:
    return datetime.fromtimestamp(seconds or 0, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _task_fields(run: dict[str, Any], message: str | None) -> dict[str, Any]:
    stamps = [run[name] for name in _STAMPS if run.get(name)]
    return {
        "task_id": task_id(run["thread_id"], run["id"]),
        "status": _STATUS.get(run["status"], "working"),
        "status_message": message,
        "created_at": _iso(run.get("created_at")),
        "last_updated_at": _iso(max(stamps, default=None)),
    }


def outputs_key(tool_calls: Sequence[dict[str, Any]]) -> str:
    """The input request key of one requires_action round: its tool call IDs (unique over the
    run's life, as the extension asks of keys)."""
    ids = ",".join(call["id"] for call in tool_calls)
    return "tool_outputs_" + hashlib.sha256(ids.encode()).hexdigest()[:16]


def outputs_request(tool_calls: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The run's function calls as one form elicitation: a string field per tool_call_id. The
    calls themselves ride in `_meta` too, for clients that answer them without a person."""
    lines = [
        f"{c['id']}: {c['function']['name']}({c['function']['arguments']})" for c in tool_calls
    ]
    schema = {
        "type": "object",
        "properties": {
            c["id"]: {
                "type": "string",
                "title": c["function"]["name"],
                "description": f"The output of {c['function']['name']}"
                f"({c['function']['arguments']}).",
            }
            for c in tool_calls
        },
        "required": [c["id"] for c in tool_calls],
    }
    request = types.ElicitRequest(
        params=types.ElicitRequestFormParams(
            message="The assistant called functions; give each call's output.\n" + "\n".join(lines),
            requested_schema=schema,
            _meta={"openai-assistant-mcp/tool_calls": list(tool_calls)},
        )
    )
    return request.model_dump(by_alias=True, mode="json", exclude_none=True)


async def _no_progress(amount: float, message: str) -> None:
    """tasks/get reads a run once: nothing to report."""


# run_seen(key, run): told of every run tasks/get reads (resource_events.py).
RunSeen = Callable[[str | None, Any], Awaitable[None]]
ToolCaller = Callable[
    ["ServerRequestContext[Any]", types.CallToolRequestParams], Awaitable["Answer"]
]


class RunTasks(Extension):
    """The tasks extension for the run tools; `install` puts it on a low-level server."""

    identifier = EXTENSION_ID

    def __init__(
        self,
        access: CallerAPI,
        call_tool: ToolCaller,
        tools: set[str],
        run_seen: RunSeen | None = None,
    ) -> None:
        self._access = access
        self._run_seen = run_seen
        self._call_tool = call_tool
        self._tools = TASK_TOOLS & tools

    def __bool__(self) -> bool:
        return bool(self._tools)

    def install(self, server: Server[Any]) -> None:
        """What `MCPServer(extensions=[...])` does, on the low-level server this project uses:
        the methods (2026-07-28 only), the capability, the tools/call interceptor."""
        for binding in self.methods():
            server.add_request_handler(binding.method, binding.params_type, binding.handler)
        server.extensions[self.identifier] = self.settings()
        server.add_request_handler(
            "tools/call",
            types.CallToolRequestParams,
            compose_tool_call_handler([self], self._call_tool),
        )

    def methods(self) -> Sequence[MethodBinding]:
        return (
            MethodBinding("tasks/get", TaskParams, self._modern(self.get)),
            MethodBinding("tasks/update", TaskUpdateParams, self._modern(self.update)),
            MethodBinding("tasks/cancel", TaskParams, self._modern(self.cancel)),
        )

    @staticmethod
    def _modern(handler: Any) -> Any:
        """Only on 2026-07-28 (the extension's protocol), and only for a declaring client."""

        async def gated(ctx: ServerRequestContext[Any], params: Any) -> Any:
            if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
                raise MCPError(METHOD_NOT_FOUND, "Method not found", ctx.method)
            if not _declared(ctx):
                raise MCPError(
                    MISSING_REQUIRED_CLIENT_CAPABILITY,
                    f"Missing required client capability: extension {EXTENSION_ID}",
                    {"requiredCapabilities": {"extensions": {EXTENSION_ID: {}}}},
                )
            return await handler(ctx, params)

        return gated

    async def intercept_tool_call(
        self, params: types.CallToolRequestParams, ctx: ServerRequestContext[Any], call_next: Any
    ) -> Any:
        if params.name not in self._tools or not _declared(ctx):
            return await call_next(ctx)
        # The tool's own pipeline (arguments, key, limits, errors), not waiting: the run it
        # started (or continued) is the task.
        started = params.model_copy(
            update={"arguments": {**(params.arguments or {}), "wait": False}}
        )
        answer = await self._call_tool(ctx, started)
        if not isinstance(answer, types.CallToolResult) or answer.is_error:
            return answer  # refused before a run existed: the tool's own answer
        run = (answer.structured_content or {}).get("run")
        if not isinstance(run, dict):
            return answer
        text = _summary(answer)
        return CreateTaskResult(**_task_fields(run, text))

    async def get(self, ctx: ServerRequestContext[Any], params: TaskParams) -> DetailedTask:
        thread_id, run_id = parse_task_id(params.task_id)
        async with self._access.api(ctx, "tasks/get") as api:
            run = await self._retrieve(api, thread_id, run_id)
            result = shaped(
                await settle(Call(api=api, progress=_no_progress), run, None), self._access.key(ctx)
            )
        data = as_dict(run)
        if self._run_seen is not None:
            await self._run_seen(self._access.key(ctx), data)
        text = _summary(result)
        task = DetailedTask(**_task_fields(data, text))
        if task.status == "input_required":
            calls = (result.structured_content or {}).get("tool_calls") or []
            task.input_requests = {outputs_key(calls): outputs_request(calls)}
        elif task.status == "completed":
            task.result = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        return task

    async def update(
        self, ctx: ServerRequestContext[Any], params: TaskUpdateParams
    ) -> types.EmptyResult:
        thread_id, run_id = parse_task_id(params.task_id)
        async with self._access.api(ctx, "tasks/update") as api:
            run = as_dict(await self._retrieve(api, thread_id, run_id))
            if run["status"] != "requires_action":
                return types.EmptyResult()  # nothing outstanding: answers are ignored
            calls = run["required_action"]["submit_tool_outputs"]["tool_calls"]
            answer = params.input_responses.get(outputs_key(calls))
            if answer is None:
                return types.EmptyResult()  # not this round's key (answered, or never issued)
            outputs = _outputs(answer, calls)
            runs = api.beta.threads.runs
            if outputs is None:
                await runs.cancel(run_id, thread_id=thread_id)
            else:
                await runs.submit_tool_outputs(run_id, thread_id=thread_id, tool_outputs=outputs)
        return types.EmptyResult()

    async def cancel(self, ctx: ServerRequestContext[Any], params: TaskParams) -> types.EmptyResult:
        thread_id, run_id = parse_task_id(params.task_id)
        async with self._access.api(ctx, "tasks/cancel") as api:
            run = as_dict(await self._retrieve(api, thread_id, run_id))
            if _STATUS.get(run["status"]) in ("working", "input_required"):
                await api.beta.threads.runs.cancel(run_id, thread_id=thread_id)
        return types.EmptyResult()

    @staticmethod
    async def _retrieve(api: Any, thread_id: str, run_id: str) -> Any:
        import openai  # loaded with the backend already

        try:
            return await api.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
        except openai.NotFoundError:
            # Another tenant's run is not found either: the same answer, nothing told.
            raise MCPError(INVALID_PARAMS, "Failed to retrieve task: Task not found") from None


def _summary(result: types.CallToolResult) -> str | None:
    """A tool result's first line (its summary), the task's status message."""
    first = result.content[0] if result.content else None
    return first.text if isinstance(first, types.TextContent) else None


def _declared(ctx: ServerRequestContext[Any]) -> bool:
    """Whether this request declares the extension (2026-07-28 requests carry their client's
    capabilities each)."""
    if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        return False
    capabilities = ctx.session.client_capabilities
    return bool(
        capabilities and capabilities.extensions and EXTENSION_ID in capabilities.extensions
    )


def _outputs(answer: Any, calls: Sequence[dict[str, Any]]) -> list[Any] | None:
    """The tool outputs of an answered elicitation (None: declined, so the run is cancelled)."""
    try:
        result = types.ElicitResult.model_validate(answer)
    except ValueError:
        raise MCPError(
            INVALID_PARAMS, "inputResponses: expected an elicitation result {action, content}"
        ) from None
    if result.action != "accept":
        return None
    content = result.content or {}
    missing = [c["id"] for c in calls if not isinstance(content.get(c["id"]), str)]
    if missing:
        raise MCPError(
            INVALID_PARAMS,
            "inputResponses: no output (a string) for tool call " + ", ".join(missing),
        )
    return [{"tool_call_id": c["id"], "output": str(content[c["id"]])} for c in calls]

"""The client half of the MCP tasks extension (io.modelcontextprotocol/tasks, 2026-07-28) on the
SDK's own client-extension surface (`mcp.client.extension`), for the tests: the `task` result
claimed, and tasks/get, tasks/update and tasks/cancel sent through the SDK session (with the
Mcp-Name header the extension asks for on streamable HTTP)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

import anyio
import mcp_types as types
from mcp import Client
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim

from openai_assistant_mcp.mcp.tasks import (
    EXTENSION_ID,
    CreateTaskResult,
    DetailedTask,
    TaskParams,
    TaskUpdateParams,
)

TERMINAL = {"completed", "failed", "cancelled"}


class GetTask(types.Request[TaskParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    params: TaskParams
    name_param = "taskId"


class UpdateTask(types.Request[TaskUpdateParams, Literal["tasks/update"]]):
    method: Literal["tasks/update"] = "tasks/update"
    params: TaskUpdateParams
    name_param = "taskId"


class CancelTask(types.Request[TaskParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    params: TaskParams
    name_param = "taskId"


# answer(tool_calls) -> {tool_call_id: output}: how the resolver answers input_required.
Answerer = Callable[[list[dict[str, Any]]], Awaitable[dict[str, str]]]


class RunTasksClient(ClientExtension):
    """Declares the extension; `call_tool` then polls a task to its end (answering tool calls
    with `answer`, if given) and returns its CallToolResult."""

    identifier = EXTENSION_ID

    def __init__(self, answer: Answerer | None = None) -> None:
        self.answer = answer
        self.seen: list[DetailedTask] = []  # every tasks/get answer, in order

    def claims(self) -> Sequence[ResultClaim[Any]]:
        return (ResultClaim(result_type="task", model=CreateTaskResult, resolve=self._resolve),)

    async def _resolve(self, created: CreateTaskResult, ctx: ClaimContext) -> types.CallToolResult:
        while True:
            task = await ctx.session.send_request(
                GetTask(params=TaskParams(task_id=created.task_id)), DetailedTask
            )
            self.seen.append(task)
            if task.status == "completed":
                assert task.result is not None
                return types.CallToolResult.model_validate(task.result)
            if task.status in TERMINAL:
                text = f"task {task.status}: {task.status_message}"
                return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)
            if task.status == "input_required" and self.answer is not None:
                assert task.input_requests
                (key, request), *_ = task.input_requests.items()
                calls = request["params"]["_meta"]["openai-assistant-mcp/tool_calls"]
                outputs = await self.answer(calls)
                await update_task(ctx.session, created.task_id, key, outputs)
            await anyio.sleep((task.poll_interval_ms or 1000) / 1000 / 10)


async def start_task(client: Client, tool: str, arguments: dict[str, Any]) -> CreateTaskResult:
    """Calls a run tool that must answer with a task handle."""
    result = await client.session.call_tool(tool, arguments, allow_claimed=True)
    assert isinstance(result, CreateTaskResult), f"{tool} answered {result!r}"
    return result


async def get_task(session: Any, task_id: str) -> DetailedTask:
    request = GetTask(params=TaskParams(task_id=task_id))
    task: DetailedTask = await session.send_request(request, DetailedTask)
    return task


async def update_task(session: Any, task_id: str, key: str, outputs: dict[str, str]) -> None:
    responses = {key: {"action": "accept", "content": outputs}}
    params = TaskUpdateParams(task_id=task_id, input_responses=responses)
    await session.send_request(UpdateTask(params=params), types.EmptyResult)


async def cancel_task(session: Any, task_id: str) -> None:
    await session.send_request(CancelTask(params=TaskParams(task_id=task_id)), types.EmptyResult)


async def wait_for_status(session: Any, task_id: str, *statuses: str) -> DetailedTask:
    """Polls tasks/get until the task is in one of `statuses` (a readiness wait, 120 s cap)."""
    with anyio.fail_after(120):
        while True:
            task = await get_task(session, task_id)
            if task.status in statuses:
                return task
            assert task.status not in TERMINAL, f"task ended {task.status}: {task.status_message}"
            await anyio.sleep(0.05)

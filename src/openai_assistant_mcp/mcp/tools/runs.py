"""Toolset `runs`: start runs, follow them to the end, answer tool calls, read and cancel runs.

create_run, create_thread_and_run and submit_tool_outputs wait for the run by default: they
stream it (reporting the answer's text as MCP progress) until it completes, fails or needs tool
outputs, so one call gets the answer. `wait: false` returns the run at once, as the API does.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from ...shapes.runs import ReasoningEffort, RunSettings
from .common import (
    AnyObject,
    Args,
    Call,
    ListArgs,
    Metadata,
    NewMessage,
    NewThread,
    ObjectId,
    ResponseFormat,
    ToolChoice,
    ToolDef,
    ToolResult,
    Truncation,
    as_dict,
    page_result,
)
from .run_results import follow, settle
from .spec import Toolset, ToolSpec


class WaitArgs(Args):
    wait: bool = Field(True, description="Wait for the run to finish or need tool outputs.")
    timeout: float = Field(50, gt=0, le=600, description="Seconds to wait at most.")


class AssistantRun(WaitArgs):
    assistant_id: ObjectId


class RunOptions(RunSettings, AssistantRun):
    """Per-run overrides of the assistant's settings (`shapes.runs.RunSettings`), those typed
    `Any` there as the MCP tools present them (structured ones as short loose objects)."""

    model: str | None = None
    instructions: str | None = Field(None, description="Replaces the assistant's instructions.")
    tools: list[ToolDef] | None = Field(None, max_length=20)
    metadata: Metadata | None = None
    truncation_strategy: Truncation | None = None
    tool_choice: ToolChoice | None = None
    response_format: ResponseFormat | None = None


class CreateRun(RunOptions):
    thread_id: ObjectId
    additional_instructions: str | None = Field(None, description="Appended to instructions.")
    additional_messages: list[NewMessage] | None = Field(
        None, description="Messages added to the thread before the run."
    )
    reasoning_effort: ReasoningEffort | None = None


class CreateThreadAndRun(RunOptions):
    thread: NewThread | None = Field(None, description="The new thread, e.g. {messages: [...]}.")
    tool_resources: AnyObject | None = None


class ToolOutput(Args):
    tool_call_id: str
    output: str


class SubmitToolOutputs(WaitArgs):
    thread_id: ObjectId
    run_id: ObjectId
    tool_outputs: list[ToolOutput] = Field(
        min_length=1, description="One output per pending tool call."
    )


class RunId(Args):
    thread_id: ObjectId
    run_id: ObjectId


class ListRuns(ListArgs):
    thread_id: ObjectId


class ModifyRun(RunId):
    metadata: Metadata | None = None


async def _run_tool(call: Call, args: WaitArgs, manager: Any, start: Any) -> ToolResult:
    if not args.wait:
        return await settle(call, await start(), None)
    seen = await follow(call, manager(), args.timeout)
    if seen.run is None:
        return ToolResult(
            {"run": None}, f"No run started within {args.timeout:g} s.", is_error=True
        )
    return await settle(call, seen.run, args.timeout, seen)


async def create_run(call: Call, args: CreateRun) -> ToolResult:
    runs = call.api.beta.threads.runs
    params = args.fields("thread_id", "wait", "timeout")
    return await _run_tool(
        call,
        args,
        lambda: runs.stream(thread_id=args.thread_id, **params),
        lambda: runs.create(args.thread_id, **params),
    )


async def create_thread_and_run(call: Call, args: CreateThreadAndRun) -> ToolResult:
    threads = call.api.beta.threads
    params = args.fields("wait", "timeout")
    return await _run_tool(
        call,
        args,
        lambda: threads.create_and_run_stream(**params),
        lambda: threads.create_and_run(**params),
    )


async def submit_tool_outputs(call: Call, args: SubmitToolOutputs) -> ToolResult:
    runs = call.api.beta.threads.runs
    params = args.fields("wait", "timeout")
    return await _run_tool(
        call,
        args,
        lambda: runs.submit_tool_outputs_stream(**params),
        lambda: runs.submit_tool_outputs(
            args.run_id, thread_id=args.thread_id, tool_outputs=params["tool_outputs"]
        ),
    )


async def get_run(call: Call, args: RunId) -> ToolResult:
    run = await call.api.beta.threads.runs.retrieve(args.run_id, thread_id=args.thread_id)
    return await settle(call, run, None)


def run_line(run: dict[str, Any]) -> str:
    return f"{run['id']} {run['status']} (assistant {run['assistant_id']})"


async def list_runs(call: Call, args: ListRuns) -> ToolResult:
    page = await call.api.beta.threads.runs.list(args.thread_id, **args.fields("thread_id"))
    return page_result(page, "runs", run_line)


async def modify_run(call: Call, args: ModifyRun) -> ToolResult:
    run = await call.api.beta.threads.runs.update(
        args.run_id, thread_id=args.thread_id, **args.fields("thread_id", "run_id")
    )
    data = as_dict(run)
    return ToolResult(data, f"Updated run {data['id']} (metadata {json.dumps(data['metadata'])}).")


async def cancel_run(call: Call, args: RunId) -> ToolResult:
    run = as_dict(await call.api.beta.threads.runs.cancel(args.run_id, thread_id=args.thread_id))
    return ToolResult(run, f"Run {run['id']}: {run['status']}.")


_WAITS = (
    "Waits (wait, timeout) and returns {run, messages} when completed, or {run, tool_calls} "
    "when it needs submit_tool_outputs; streams the text as progress."
)

TOOLSET = Toolset(
    "runs",
    "Run assistants (waiting for the answer), answer their tool calls, read and cancel runs.",
    (
        ToolSpec(
            "create_run",
            "Run an assistant on a thread to get its answer. " + _WAITS,
            CreateRun,
            create_run,
            "create",
            open_world=True,
            waits=True,
        ),
        ToolSpec(
            "create_thread_and_run",
            "Start a new thread (thread.messages) and run an assistant on it in one call. "
            + _WAITS,
            CreateThreadAndRun,
            create_thread_and_run,
            "create",
            open_world=True,
            waits=True,
        ),
        ToolSpec(
            "list_runs",
            "List a thread's runs, newest first. Returns a page of runs.",
            ListRuns,
            list_runs,
            "read",
        ),
        ToolSpec(
            "get_run",
            "Check a run's status. Returns {run}, with messages once completed or tool_calls "
            "when it needs submit_tool_outputs.",
            RunId,
            get_run,
            "read",
        ),
        ToolSpec(
            "modify_run",
            "Change a run's metadata. Returns the run.",
            ModifyRun,
            modify_run,
            "update",
        ),
        ToolSpec(
            "submit_tool_outputs",
            "Answer the function calls of a run in requires_action (every pending tool_call_id) "
            "so it continues. " + _WAITS,
            SubmitToolOutputs,
            submit_tool_outputs,
            "create",
            open_world=True,
            waits=True,
        ),
        ToolSpec(
            "cancel_run",
            "Cancel a queued or in-progress run. Returns the run (cancelling, then cancelled).",
            RunId,
            cancel_run,
            "update",
        ),
    ),
)

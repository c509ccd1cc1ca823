"""Toolset `run_steps`: the steps a run took (tool calls made, messages created)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .common import Args, Call, ListArgs, ObjectId, ToolResult, as_dict, page_result
from .spec import Toolset, ToolSpec

Include = list[Literal["step_details.tool_calls[*].file_search.results[*].content"]]


class ListRunSteps(ListArgs):
    thread_id: ObjectId
    run_id: ObjectId
    include: Include | None = Field(None, description="Extra fields to include.")


class RunStepId(Args):
    thread_id: ObjectId
    run_id: ObjectId
    step_id: ObjectId
    include: Include | None = Field(None, description="Extra fields to include.")


def step_line(step: dict[str, Any]) -> str:
    details = step.get("step_details") or {}
    if details.get("type") == "tool_calls":
        names = [
            (call.get("function") or {}).get("name") or call.get("type")
            for call in details.get("tool_calls", [])
        ]
        what = "tool calls: " + ", ".join(names)
    elif details.get("type") == "message_creation":
        what = "created " + details["message_creation"]["message_id"]
    else:
        what = step["type"]
    return f"{step['id']} {step['status']} ({what})"


async def list_run_steps(call: Call, args: ListRunSteps) -> ToolResult:
    page = await call.api.beta.threads.runs.steps.list(
        args.run_id, thread_id=args.thread_id, **args.fields("thread_id", "run_id")
    )
    return page_result(page, "run steps", step_line)


async def get_run_step(call: Call, args: RunStepId) -> ToolResult:
    step = as_dict(
        await call.api.beta.threads.runs.steps.retrieve(args.step_id, **args.fields("step_id"))
    )
    return ToolResult(step, "Run step " + step_line(step))


TOOLSET = Toolset(
    "run_steps",
    "The steps a run took: tool calls made, messages created.",
    (
        ToolSpec(
            "list_run_steps",
            "List the steps of a run (tool calls with arguments and outputs, messages created). "
            "Returns a page of run steps.",
            ListRunSteps,
            list_run_steps,
            "read",
        ),
        ToolSpec(
            "get_run_step",
            "Get one step of a run. Returns the run step.",
            RunStepId,
            get_run_step,
            "read",
        ),
    ),
)

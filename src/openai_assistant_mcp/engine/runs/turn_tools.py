"""The built-in tool calls of a turn: executed in the turn, recorded in its tool-call step, and
their outputs handed to the model (see `builtin.py` for the seam the tools implement)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ..state import EngineState
from ..store import repository
from ..store.database import Database
from .builtin import BuiltinContext, BuiltinTool
from .stream import ToolCall


async def builtin_context(
    db: Database,
    tenant: str,
    run: dict[str, Any],
    execution: dict[str, Any],
    api_key: str | None,
    services: EngineState,
    thread_messages: list[dict[str, Any]] | None = None,
) -> BuiltinContext:
    """What built-in tools may know about a run: its tool_resources are the thread's merged
    with the assistant's (lists joined, first seen kept)."""
    async with db.read() as conn:
        thread = await repository.get_object(conn, repository.THREADS, tenant, run["thread_id"])
        assistant = await repository.get_object(
            conn, repository.ASSISTANTS, tenant, run["assistant_id"]
        )
    resources = merge_resources(
        (thread or {}).get("tool_resources"), (assistant or {}).get("tool_resources")
    )
    return BuiltinContext(
        tenant=tenant,
        run=run,
        tool_resources=resources,
        api_key=api_key,
        include=frozenset(execution.get("include") or ()),
        services=services,
        thread_messages=list(thread_messages or []),
    )


async def unavailable(offered: dict[str, BuiltinTool], context: BuiltinContext) -> str | None:
    """Why one of the offered built-in tools cannot run (the run fails saying so), else None."""
    for tool in offered.values():
        reason = await tool.unavailable(context)
        if reason:
            return f"The {tool.type} tool is unavailable: {reason}"
    return None


async def described(offered: dict[str, BuiltinTool], context: BuiltinContext) -> dict[str, str]:
    """What each offered tool says of this run, by function name (added to its description,
    e.g. code_interpreter's files in /mnt/data)."""
    notes: dict[str, str] = {}
    for tool in offered.values():
        describe = getattr(tool, "describe", None)
        note = await describe(context) if describe is not None else None
        if note:
            notes[tool.function_name] = note
    return notes


def merge_resources(*sources: dict[str, Any] | None) -> dict[str, Any]:
    merged: dict[str, dict[str, Any]] = {}
    for source in sources:
        for tool_type, resource in (source or {}).items():
            if not isinstance(resource, dict):
                continue
            into = merged.setdefault(tool_type, {})
            for name, value in resource.items():
                if isinstance(value, list):
                    seen = into.setdefault(name, [])
                    seen.extend(v for v in value if v not in seen)
                elif name not in into:
                    into[name] = value
    return merged


class BuiltinRound:
    """The turn's built-in calls: results by call, outputs the model has not seen yet."""

    def __init__(
        self, publish_delta: Callable[[dict[str, Any]], None], execution: dict[str, Any]
    ) -> None:
        self.publish_delta = publish_delta  # a tool call delta of the turn's tool-call step
        # The run's execution document: the count of built-in calls and the sources they
        # returned are kept there, across turns, for markers and citations.
        self.execution = execution
        self.offered: dict[str, BuiltinTool] = {}  # by function name
        self.results: dict[str, dict[str, Any]] = {}  # call id -> step tool call (no id)
        self.files: list[dict[str, Any]] = []
        # Every call of the last round executed ran cleanly (BuiltinResult.ran_cleanly).
        self.ran_cleanly = False
        self._outputs: list[tuple[str, str]] = []
        # Text already published per call id and field (deltas add up: never sent twice).
        self.sent: dict[str, dict[str, str]] = {}

    def tool_named(self, function_name: str) -> BuiltinTool | None:
        return self.offered.get(function_name)

    def step_call(self, call: ToolCall) -> dict[str, Any] | None:
        """An executed built-in call as its step shows it; None for others (a built-in call
        never executed - the run ended first - shows as the function the model called)."""
        if call.id in self.results:
            return {"id": call.id, **self.results[call.id]}
        return None

    async def execute(
        self, context: BuiltinContext, calls: list[tuple[ToolCall, BuiltinTool]]
    ) -> None:
        """Execute each call in turn, publishing it as a step delta as it starts, progresses
        and ends."""
        self.ran_cleanly = bool(calls)
        for call, tool in calls:

            def progress(partial: dict[str, Any], call: ToolCall = call) -> None:
                self.publish_new(call, partial)

            progress({"type": tool.type, tool.type: {}})
            index = int(self.execution.get("builtin_calls") or 0)
            self.execution["builtin_calls"] = index + 1
            here = dataclasses.replace(context, progress=progress, call_index=index)
            result = await tool.call(here, call.arguments)
            self.ran_cleanly = self.ran_cleanly and result.ran_cleanly
            self.results[call.id] = result.tool_call
            self.execution["sources"] = [*self.execution.get("sources", []), *result.sources]
            self.files.extend(result.files)
            # Kept with the run's execution state (like sources) for its final message.
            made = [*self.execution.get("generated_files", []), *result.files]
            self.execution["generated_files"] = made
            self._outputs.append((call.id, result.model_output))
            progress(as_delta(result.tool_call))

    def publish_new(
        self, call: ToolCall, partial: dict[str, Any], only_if_new: bool = False
    ) -> None:
        """Publish a partial tool call as a delta, without the text of its fields that was
        published already (e.g. code streamed as the model wrote it); with `only_if_new`,
        nothing when no field has new text."""
        sent = self.sent.setdefault(call.id, {})
        grew = False
        kind = partial.get("type", "")
        body = dict(partial.get(kind) or {})
        for name, value in list(body.items()):
            if not isinstance(value, str):
                continue
            before = sent.get(name, "")
            new = value[len(before) :] if value.startswith(before) else value
            sent[name] = before + new
            grew = grew or bool(new)
            if new:
                body[name] = new
            else:
                del body[name]
        if only_if_new and not grew:
            return
        self.publish_delta({"index": call.index, "id": call.id, **partial, kind: body})

    def stream_call(self, call: ToolCall) -> None:
        """While the model writes a built-in call's arguments: what the tool shows of them."""
        tool = self.tool_named(call.name)
        partial = getattr(tool, "partial", None)
        shown = partial(call.arguments) if partial is not None else None
        if shown is not None:
            self.publish_new(call, shown, only_if_new=True)

    def transcript(self) -> list[dict[str, Any]]:
        """The tool messages of the calls executed since last asked (for the conversation)."""
        out = [
            {"role": "tool", "tool_call_id": cid, "content": text} for cid, text in self._outputs
        ]
        self._outputs = []
        return out


def as_delta(tool_call: dict[str, Any]) -> dict[str, Any]:
    """A finished tool call as a step delta: the items of its lists carry their `index`, as
    the spec's deltas do (e.g. code_interpreter outputs)."""
    body = dict(tool_call.get(tool_call["type"]) or {})
    for name, value in body.items():
        if isinstance(value, list):
            body[name] = [
                {"index": i, **item} if isinstance(item, dict) else item
                for i, item in enumerate(value)
            ]
    return {**tool_call, tool_call["type"]: body}

"""Following a run and shaping its outcome for the run tools: the stream followed to the end
(its text sent as progress), then the run with its new messages (and citations, code output)
or its pending tool calls."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import anyio

from .code_output import code_results
from .common import Call, ToolResult, as_dict, message_text

# Statuses at which a waiting tool returns: the run needs the caller, or it is over.
STOPPED = {"requires_action", "completed", "failed", "cancelled", "expired", "incomplete"}
# Runs that ended without an answer; `cancelled` is told apart by its status alone.
ENDED_UNANSWERED = {"failed", "expired"}
# Streamed text is sent as progress at most this often (seconds): a long answer arrives in a
# few dozen notifications rather than one per token.
PROGRESS_INTERVAL = 0.1
# After a wait has run out, the calls that read the run's state get this long (seconds).
FINAL_READ_TIMEOUT = 5.0
# Files a run's citations are resolved to names for, at most.
MAX_CITED_FILES = 20


# Events that carry a message or a run step in its final state.
MESSAGE_FINAL = {"thread.message.completed", "thread.message.incomplete"}
STEP_FINAL = {
    "thread.run.step.completed",
    "thread.run.step.failed",
    "thread.run.step.cancelled",
    "thread.run.step.expired",
}


@dataclass
class Followed:
    """What a run's stream told: the last run seen and the messages and steps it made (by ID,
    in order of creation; None until their final event arrived)."""

    run: Any = None
    from_start: bool = False  # the stream began with the run's creation: it saw all of them
    messages: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, Any] = field(default_factory=dict)

    def note(self, name: str, data: Any) -> None:
        if name == "thread.run.created":
            self.from_start = True
        elif name == "thread.message.created":
            self.messages.setdefault(data.id, None)
        elif name in MESSAGE_FINAL:
            self.messages[data.id] = data
        elif name == "thread.run.step.created":
            self.steps.setdefault(data.id, None)
        elif name in STEP_FINAL:
            self.steps[data.id] = data

    def whole(self, found: dict[str, Any]) -> list[Any] | None:
        """All of the run's messages (or steps) in their final state, if the stream saw them
        all (else None: they must be read)."""
        if not self.from_start or any(item is None for item in found.values()):
            return None
        return list(found.values())


async def follow(call: Call, manager: AbstractAsyncContextManager[Any], seconds: float) -> Followed:
    """Stream a run until it stops or `seconds` pass; returns what the stream told (the last
    run seen is None if none started)."""
    seen = Followed()
    run: Any = None
    sent = 0  # progress must grow with every notification
    text = ""  # streamed text not sent yet
    last_sent = 0.0
    noted: set[str] = set()  # file_search calls already announced

    async def send(message: str) -> None:
        nonlocal sent, last_sent
        sent += 1
        last_sent = anyio.current_time()
        await call.progress(sent, message)

    async def flush() -> None:
        nonlocal text
        if text:
            await send(text)
            text = ""

    with anyio.move_on_after(seconds):
        async with manager as events:
            async for event in events:
                name: str = event.event
                seen.note(name, event.data)
                if name.startswith("thread.run.") and not name.startswith("thread.run.step."):
                    run = seen.run = event.data
                    await flush()
                    if run.status in STOPPED:
                        break
                    await send(f"run {run.status}")
                elif name in ("thread.run.step.delta", "thread.run.step.completed"):
                    note = _search_note(name, event.data, noted)
                    if note:
                        await flush()
                        await send(note)
                elif name == "thread.message.delta":
                    for part in event.data.delta.content or []:
                        text += getattr(getattr(part, "text", None), "value", None) or ""
                    if anyio.current_time() - last_sent >= PROGRESS_INTERVAL:
                        await flush()
    await flush()  # the wait ran out mid-answer
    return seen


def _search_note(name: str, step: Any, noted: set[str]) -> str | None:
    """A progress line for a file_search call: when it starts, and what it found."""
    details = getattr(step, "delta", step)
    details = getattr(details, "step_details", None)
    for tool_call in getattr(details, "tool_calls", None) or []:
        if getattr(tool_call, "type", None) != "file_search":
            continue
        key = f"{getattr(tool_call, 'id', None) or getattr(tool_call, 'index', '')}"
        if name.endswith(".delta") and key not in noted:
            noted.add(key)
            return "searching the files…"
        if name.endswith(".completed"):
            results = getattr(tool_call.file_search, "results", None) or []
            files = {r.file_id for r in results}
            return f"file search: {len(results)} results from {len(files)} files"
    return None


async def _citations(api: Any, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The file_citation annotations of `messages`, with the cited files' names."""
    found = [
        annotation
        for message in messages
        for part in message.get("content") or []
        if part.get("type") == "text"
        for annotation in part["text"].get("annotations") or []
        if annotation.get("type") == "file_citation"
    ]
    names: dict[str, str] = {}
    for file_id in list(dict.fromkeys(a["file_citation"]["file_id"] for a in found))[
        :MAX_CITED_FILES
    ]:
        try:
            names[file_id] = (await api.files.retrieve(file_id)).filename
        except Exception:  # deleted since, or the lookup failed: the ID stands in for the name
            names[file_id] = file_id
    return [
        {
            "marker": a["text"],
            "file_id": a["file_citation"]["file_id"],
            "filename": names.get(a["file_citation"]["file_id"], a["file_citation"]["file_id"]),
        }
        for a in found
    ]


async def settle(
    call: Call, run: Any, waited: float | None, seen: Followed | None = None
) -> ToolResult:
    """The result of a run tool: the run, plus its new messages or its pending tool calls.
    What the stream already told (`seen`) is not read again."""
    api = call.api
    if waited is not None:
        # The caller's `timeout` is spent: reading the outcome must not take another 120 s
        # (nor retries of it); the run can still be read later with get_run.
        api = api.with_options(timeout=FINAL_READ_TIMEOUT, max_retries=0)
    if waited is not None and run.status not in STOPPED:
        # The stream ended early or the wait ran out: report the run as it is now.
        run = await api.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)
        seen = None  # the run went on past what the stream told
    data: dict[str, Any] = {"run": as_dict(run)}
    status = run.status
    head = f"Run {run.id} on thread {run.thread_id}: {status}"

    if status in ("completed", "incomplete"):
        messages = seen.whole(seen.messages) if seen else None
        if messages is None:
            page = await api.beta.threads.messages.list(
                run.thread_id, run_id=run.id, order="asc", limit=100
            )
            messages = page.data
        data["messages"] = [as_dict(message) for message in messages[:100]]
        reason = (run.incomplete_details and run.incomplete_details.reason) or ""
        replies = [message_text(m) for m in data["messages"] if m["role"] == "assistant"]
        reply = f" Reply: {replies[-1]}" if replies else ""
        cited = await _citations(api, data["messages"])
        if cited:
            data["citations"] = cited
            sources = {(c["marker"], c["filename"], c["file_id"]) for c in cited}
            reply += " Sources: " + "; ".join(
                f"{marker} = {name} ({file_id})" for marker, name, file_id in sorted(sources)
            )
        text = head + (f" ({reason})" if reason else "") + "."
        steps = seen.whole(seen.steps) if seen else None
        code = await code_results(api, run, data["messages"], steps)
        if code is None:
            return ToolResult(data, text + reply)
        data["code_interpreter"] = {"calls": code.calls, "files": code.files}
        # The code summary before the reply: the summary line is cut at 300 characters.
        return ToolResult(data, f"{text} {code.text}.{reply}", images=code.images)

    if status == "requires_action":
        calls = [as_dict(c) for c in run.required_action.submit_tool_outputs.tool_calls]
        data["tool_calls"] = calls
        names = ", ".join(f"{c['id']} {c['function']['name']}" for c in calls)
        text = (
            f"{head}. Call submit_tool_outputs with thread_id={run.thread_id}, "
            f"run_id={run.id} and one output per tool call ({names})."
        )
        return ToolResult(data, text)

    if status in ENDED_UNANSWERED:
        # The tool did its job: the run's outcome is the result, not a tool error.
        error = run.last_error
        cause = f"{error.code}: {error.message}" if error else "no reason given"
        return ToolResult(data, f"{head} ({cause}).")

    if waited is not None and status not in STOPPED:
        return ToolResult(
            data, f"{head} after {waited:g} s; check again with get_run or list_messages."
        )
    return ToolResult(data, head + ".")

"""Toolset `threads`: create, read, modify and delete conversation threads."""

from __future__ import annotations

from typing import Any

from ...shapes.threads import ThreadSettings
from .common import AnyObject, Args, Call, Metadata, NewThread, ObjectId, ToolResult, as_dict
from .spec import Toolset, ToolSpec


class ThreadId(Args):
    thread_id: ObjectId


# A thread's settings (`shapes.threads.ThreadSettings`) as the MCP tools present them.
class ModifyThread(ThreadSettings, ThreadId):
    tool_resources: AnyObject | None = None
    metadata: Metadata | None = None


def _result(thread: Any, verb: str) -> ToolResult:
    data = as_dict(thread)
    return ToolResult(data, f"{verb} thread {data['id']}.")


async def create_thread(call: Call, args: NewThread) -> ToolResult:
    thread = await call.api.beta.threads.create(**args.fields())
    count = len(args.messages or [])
    result = _result(thread, "Created")
    if count:
        result.text = result.text.removesuffix(".") + f" with {count} message(s)."
    return result


async def get_thread(call: Call, args: ThreadId) -> ToolResult:
    return _result(await call.api.beta.threads.retrieve(args.thread_id), "Found")


async def modify_thread(call: Call, args: ModifyThread) -> ToolResult:
    thread = await call.api.beta.threads.update(args.thread_id, **args.fields("thread_id"))
    return _result(thread, "Updated")


async def delete_thread(call: Call, args: ThreadId) -> ToolResult:
    deleted = as_dict(await call.api.beta.threads.delete(args.thread_id))
    return ToolResult(deleted, f"Deleted thread {deleted['id']} with its messages and runs.")


TOOLSET = Toolset(
    "threads",
    "Create, read, modify and delete conversation threads.",
    (
        ToolSpec(
            "create_thread",
            "Start a conversation thread, optionally with first messages. Returns the thread "
            "with its ID; add messages with create_message, then create_run.",
            NewThread,
            create_thread,
            "create",
        ),
        ToolSpec(
            "get_thread", "Get a thread by ID. Returns the thread.", ThreadId, get_thread, "read"
        ),
        ToolSpec(
            "modify_thread",
            "Change a thread's metadata or tool_resources. Returns the thread.",
            ModifyThread,
            modify_thread,
            "update",
        ),
        ToolSpec(
            "delete_thread",
            "Delete a thread with all its messages and runs. Returns {id, deleted}.",
            ThreadId,
            delete_thread,
            "delete",
        ),
    ),
)

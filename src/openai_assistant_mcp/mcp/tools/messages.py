"""Toolset `messages`: add, read, list, modify and delete a thread's messages."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .common import (
    Args,
    Call,
    ListArgs,
    Metadata,
    NewMessage,
    ObjectId,
    ToolResult,
    as_dict,
    message_line,
    page_result,
)
from .spec import Toolset, ToolSpec


class CreateMessage(NewMessage):
    thread_id: ObjectId


class MessageId(Args):
    thread_id: ObjectId
    message_id: ObjectId


class ListMessages(ListArgs):
    thread_id: ObjectId
    run_id: ObjectId | None = Field(None, description="Only the messages this run created.")


class ModifyMessage(MessageId):
    metadata: Metadata | None = None


def _result(message: Any, verb: str) -> ToolResult:
    data = as_dict(message)
    return ToolResult(data, f"{verb} message {message_line(data)}")


async def create_message(call: Call, args: CreateMessage) -> ToolResult:
    message = await call.api.beta.threads.messages.create(
        args.thread_id, **args.fields("thread_id")
    )
    return _result(message, "Added")


async def get_message(call: Call, args: MessageId) -> ToolResult:
    message = await call.api.beta.threads.messages.retrieve(
        args.message_id, thread_id=args.thread_id
    )
    return _result(message, "Found")


async def list_messages(call: Call, args: ListMessages) -> ToolResult:
    page = await call.api.beta.threads.messages.list(args.thread_id, **args.fields("thread_id"))
    return page_result(page, "messages", message_line)


async def modify_message(call: Call, args: ModifyMessage) -> ToolResult:
    message = await call.api.beta.threads.messages.update(
        args.message_id, thread_id=args.thread_id, **args.fields("thread_id", "message_id")
    )
    return _result(message, "Updated")


async def delete_message(call: Call, args: MessageId) -> ToolResult:
    deleted = as_dict(
        await call.api.beta.threads.messages.delete(args.message_id, thread_id=args.thread_id)
    )
    return ToolResult(deleted, f"Deleted message {deleted['id']}.")


TOOLSET = Toolset(
    "messages",
    "Add, read, list, modify and delete a thread's messages.",
    (
        ToolSpec(
            "create_message",
            "Add a message to a thread (role user by default); then create_run to get an "
            "answer. Returns the message.",
            CreateMessage,
            create_message,
            "create",
        ),
        ToolSpec(
            "get_message",
            "Get one message of a thread. Returns the message.",
            MessageId,
            get_message,
            "read",
        ),
        ToolSpec(
            "list_messages",
            "Read a thread's conversation, newest first (order asc for oldest first); run_id "
            "filters to one run's messages. Returns a page of messages.",
            ListMessages,
            list_messages,
            "read",
        ),
        ToolSpec(
            "modify_message",
            "Change a message's metadata. Returns the message.",
            ModifyMessage,
            modify_message,
            "update",
        ),
        ToolSpec(
            "delete_message",
            "Delete a message from a thread. Returns {id, deleted}.",
            MessageId,
            delete_message,
            "delete",
        ),
    ),
)

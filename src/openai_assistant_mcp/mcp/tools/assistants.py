"""Toolset `assistants`: create, read, list, modify and delete assistants."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ...shapes.assistants import AssistantSettings, Instructions
from .common import (
    AnyObject,
    Args,
    Call,
    ListArgs,
    Metadata,
    ObjectId,
    ResponseFormat,
    ToolResult,
    Tools,
    as_dict,
    page_result,
    quoted,
)
from .spec import Toolset, ToolSpec


# An assistant's fields (`shapes.assistants.AssistantSettings`), those typed `Any` there as the
# MCP tools present them (structured ones as short loose objects).
class AssistantFields(AssistantSettings, Args):
    instructions: Instructions | None = Field(
        None, description="System instructions the assistant follows."
    )
    tools: Tools | None = None
    tool_resources: AnyObject | None = None
    metadata: Metadata | None = None
    response_format: ResponseFormat | None = None


class CreateAssistant(AssistantFields):
    model: str = Field(description="Model ID, e.g. gpt-4o.")


class AssistantId(Args):
    assistant_id: ObjectId


class ModifyAssistant(AssistantFields):
    assistant_id: ObjectId
    model: str | None = None


def assistant_line(assistant: dict[str, Any]) -> str:
    return f"{assistant['id']}{quoted(assistant.get('name'))} ({assistant['model']})"


def _result(assistant: Any, verb: str) -> ToolResult:
    data = as_dict(assistant)
    return ToolResult(data, f"{verb} assistant {assistant_line(data)}.")


async def create_assistant(call: Call, args: CreateAssistant) -> ToolResult:
    return _result(await call.api.beta.assistants.create(**args.fields()), "Created")


async def get_assistant(call: Call, args: AssistantId) -> ToolResult:
    return _result(await call.api.beta.assistants.retrieve(args.assistant_id), "Found")


async def list_assistants(call: Call, args: ListArgs) -> ToolResult:
    page = await call.api.beta.assistants.list(**args.fields())
    return page_result(page, "assistants", assistant_line)


async def modify_assistant(call: Call, args: ModifyAssistant) -> ToolResult:
    assistant = await call.api.beta.assistants.update(
        args.assistant_id, **args.fields("assistant_id")
    )
    return _result(assistant, "Updated")


async def delete_assistant(call: Call, args: AssistantId) -> ToolResult:
    deleted = as_dict(await call.api.beta.assistants.delete(args.assistant_id))
    return ToolResult(deleted, f"Deleted assistant {deleted['id']}.")


TOOLSET = Toolset(
    "assistants",
    "Create, read, list, modify and delete assistants.",
    (
        ToolSpec(
            "create_assistant",
            "Create an assistant: a model with instructions and tools (function tools are run by "
            "you via submit_tool_outputs). Returns the assistant with its ID.",
            CreateAssistant,
            create_assistant,
            "create",
        ),
        ToolSpec(
            "get_assistant",
            "Get one assistant by ID. Returns the assistant.",
            AssistantId,
            get_assistant,
            "read",
        ),
        ToolSpec(
            "list_assistants",
            "List assistants, newest first, to find an assistant ID. Returns a page "
            "(data, has_more, last_id for the next page).",
            ListArgs,
            list_assistants,
            "read",
        ),
        ToolSpec(
            "modify_assistant",
            "Change an assistant's fields; only the given fields change. Returns the assistant.",
            ModifyAssistant,
            modify_assistant,
            "update",
        ),
        ToolSpec(
            "delete_assistant",
            "Delete an assistant permanently. Returns {id, deleted}.",
            AssistantId,
            delete_assistant,
            "delete",
        ),
    ),
)

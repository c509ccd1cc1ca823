"""Request models for runs: create, create thread and run, modify, submit tool outputs."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from ...shapes.runs import MAX_INT, ReasoningEffort, RunSettings
from ...shapes.tools import ToolType
from .schema_base import Metadata, Request
from .schemas import (
    MAX_THREAD_MESSAGES,
    CreateMessage,
    CreateThread,
    ResponseFormat,
    Tool,
    ToolResources,
)

RunTools = Annotated[list[Tool], Field(max_length=20)]
ModelName = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Instructions = Annotated[str, StringConstraints(max_length=256_000)]
# As many messages as a thread create takes (OpenAI's limit).
AdditionalMessages = Annotated[list[CreateMessage], Field(max_length=MAX_THREAD_MESSAGES)]


class TruncationStrategy(Request):
    type: Literal["auto", "last_messages"]
    last_messages: Annotated[int, Field(ge=1, le=MAX_INT)] | None = None


class NamedFunction(Request):
    name: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class NamedToolChoice(Request):
    type: ToolType
    function: NamedFunction | None = None


ToolChoice = Literal["none", "auto", "required"] | NamedToolChoice


class RunOptions(RunSettings, Request):
    """Fields a run takes on top of (or instead of) its assistant's settings
    (`shapes.runs.RunSettings`, those typed `Any` there as the REST API presents them)."""

    model: ModelName | None = None
    instructions: Instructions | None = None
    tools: RunTools | None = None
    metadata: Metadata | None = None
    stream: bool | None = None
    truncation_strategy: TruncationStrategy | None = None
    tool_choice: ToolChoice | None = None
    response_format: ResponseFormat | None = None


class CreateRun(RunOptions):
    assistant_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    reasoning_effort: ReasoningEffort | None = None
    additional_instructions: Instructions | None = None
    additional_messages: AdditionalMessages | None = None


class CreateThreadAndRun(RunOptions):
    assistant_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    thread: CreateThread | None = None
    tool_resources: ToolResources | None = None


class ModifyRun(Request):
    metadata: Metadata | None = None


class ToolOutput(Request):
    tool_call_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    output: Annotated[str, StringConstraints(max_length=512_000)] = ""


class SubmitToolOutputs(Request):
    tool_outputs: Annotated[list[ToolOutput], Field(min_length=1, max_length=128)]
    stream: bool | None = None

"""An assistant's shapes, declared once: the fields a create or modify sets (the MCP assistant
tools' arguments and the REST request bodies subclass `AssistantSettings`) and the Assistant
object, field by field in the order the engine writes it, with each field's value on a new
assistant (`ASSISTANT_FIELDS`, what `engine/services/assistants.py` builds one from).

A new assistant field is a field of `AssistantSettings` and an entry of `ASSISTANT_FIELDS`,
both here; then its use (e.g. as a run's default: `RUN_FIELDS`' `from_assistant`)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, StringConstraints

from .objects import WRITTEN, Fields, Setting
from .runs import ReasoningEffort, Temperature, TopP

# OpenAI's limits.
Name = Annotated[str, StringConstraints(max_length=256)]
Description = Annotated[str, StringConstraints(max_length=512)]
Instructions = Annotated[str, StringConstraints(max_length=256_000)]


class AssistantSettings(BaseModel):
    """What a create or modify of an assistant sets besides `model` (which create requires and
    each door bounds its own way), in the order the MCP tools list them. A field typed `Any`
    here is one each door presents in its own way and declares again (same name, same place):
    strict models in REST, short loose objects in the MCP tools' schemas."""

    name: Name | None = None
    description: Description | None = None
    instructions: Instructions | None = None
    tools: Any = None
    tool_resources: Any = None
    metadata: Any = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    response_format: Any = None
    reasoning_effort: ReasoningEffort | None = None


# The Assistant object (`assistant`), every field in the order the engine writes it (as it
# always has: `model` last).
ASSISTANT_FIELDS: Fields = {
    "id": WRITTEN,
    "object": WRITTEN,
    "created_at": WRITTEN,
    "name": Setting(),
    "description": Setting(),
    "instructions": Setting(),
    "tools": Setting([]),
    "tool_resources": Setting({}),
    "metadata": Setting({}),
    "temperature": Setting(1.0),
    "top_p": Setting(1.0),
    "response_format": Setting("auto"),
    "reasoning_effort": Setting(),
    "model": Setting(),
}

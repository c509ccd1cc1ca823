"""A run's shapes, declared once: the settings a run takes over its assistant's (the MCP run
tools' arguments and the REST request models subclass `RunSettings`) and the Run object, field
by field in the order the API writes it, with each setting's value on a new run (`RUN_FIELDS`,
what `engine/services/runs.py` builds a run from; see `objects.py`).

A new run setting is a field of `RunSettings` and an entry of `RUN_FIELDS`, both here; then
the engine's use of it (e.g. `engine/runs/prompt.py`, what the model is sent)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from .objects import WRITTEN, Fields, Setting

# The spec gives no maximum for token counts; 2^31-1 is beyond any model's context and within
# every SQL integer and provider.
MAX_INT = 2**31 - 1
Temperature = Annotated[float, Field(ge=0, le=2)]
TopP = Annotated[float, Field(ge=0, le=1)]
# The spec's minimum: a run needs room for at least a short answer.
TokenBudget = Annotated[int, Field(ge=256, le=MAX_INT)]
# As the spec's ReasoningEffort.
ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]


class RunSettings(BaseModel):
    """The settings a run takes over its assistant's, in the order the doors list them: the
    MCP run tools' arguments (`mcp/tools/runs.py`, lenient, unknown arguments refused) and the
    REST API's create-run bodies (`engine/api/run_schemas.py`, strict) subclass it with their
    own base. A field typed `Any` here is one each door presents in its own way, and declares
    again in its subclass (same name, same place): strict models in REST, short loose objects
    with a description for the model in the MCP tools' schemas."""

    model: Any = None
    instructions: Any = None
    tools: Any = None
    metadata: Any = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    max_prompt_tokens: TokenBudget | None = None
    max_completion_tokens: TokenBudget | None = None
    truncation_strategy: Any = None
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None
    response_format: Any = None


# The Run object (`thread.run`), every field in the order the API writes it.
RUN_FIELDS: Fields = {
    "id": WRITTEN,
    "object": WRITTEN,
    "created_at": WRITTEN,
    "thread_id": WRITTEN,
    "assistant_id": WRITTEN,
    "status": WRITTEN,
    "required_action": WRITTEN,
    "last_error": WRITTEN,
    "expires_at": WRITTEN,
    "started_at": WRITTEN,
    "cancelled_at": WRITTEN,
    "failed_at": WRITTEN,
    "completed_at": WRITTEN,
    "incomplete_details": WRITTEN,
    "model": Setting(from_assistant=True),
    "instructions": Setting("", from_assistant=True),
    "tools": Setting([], from_assistant=True),
    "metadata": Setting({}),
    "usage": WRITTEN,
    "temperature": Setting(1.0, from_assistant=True),
    "top_p": Setting(1.0, from_assistant=True),
    "max_prompt_tokens": Setting(),
    "max_completion_tokens": Setting(),
    "truncation_strategy": Setting({"type": "auto", "last_messages": None}),
    "tool_choice": Setting("auto"),
    "parallel_tool_calls": Setting(True),
    "response_format": Setting("auto", from_assistant=True),
}

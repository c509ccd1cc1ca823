"""A run's shapes, declared once: the settings a run takes over its assistant's (the MCP run
tools' arguments and the REST request models subclass `RunSettings`) and the Run object, field
by field in the order the API writes it, with each setting's value on a new run (`RUN_FIELDS`,
what `engine/services/runs.py` builds a run from).

A new run setting is a field of `RunSettings` and an entry of `RUN_FIELDS`, both here; then
the engine's use of it (e.g. `engine/runs/prompt.py`, what the model is sent)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

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
    """The settings a run takes over its assistant's that both doors take in one shape. The
    MCP tools (`mcp/tools/runs.py`, lenient, unknown arguments refused) and the REST API
    (`engine/api/run_schemas.py`, strict) subclass it with their own base; each declares
    itself only the settings it presents differently: the structured ones (tools, tool_choice,
    response_format, truncation_strategy), strict models in REST and short loose objects in
    the MCP tools' schemas, and the texts the MCP tools describe for the model."""

    temperature: Temperature | None = None
    top_p: TopP | None = None
    max_prompt_tokens: TokenBudget | None = None
    max_completion_tokens: TokenBudget | None = None
    parallel_tool_calls: bool | None = None


@dataclass(frozen=True)
class Setting:
    """A Run field that is a setting: on a new run, the request's value, else (when
    `from_assistant`) the assistant's, else `default` (a copy)."""

    default: Any = None
    from_assistant: bool = False

    def value(self, name: str, request: dict[str, Any], assistant: dict[str, Any]) -> Any:
        found = request.get(name)
        if found is None and self.from_assistant:
            found = assistant.get(name)
        return copy.deepcopy(self.default) if found is None else found


# A Run field the engine's run lifecycle writes (ids, status, times, errors, usage): None on a
# new run unless `services/runs.py` gives it.
LIFECYCLE = None

# The Run object (`thread.run`), every field in the order the API writes it.
RUN_FIELDS: dict[str, Setting | None] = {
    "id": LIFECYCLE,
    "object": LIFECYCLE,
    "created_at": LIFECYCLE,
    "thread_id": LIFECYCLE,
    "assistant_id": LIFECYCLE,
    "status": LIFECYCLE,
    "required_action": LIFECYCLE,
    "last_error": LIFECYCLE,
    "expires_at": LIFECYCLE,
    "started_at": LIFECYCLE,
    "cancelled_at": LIFECYCLE,
    "failed_at": LIFECYCLE,
    "completed_at": LIFECYCLE,
    "incomplete_details": LIFECYCLE,
    "model": Setting(from_assistant=True),
    "instructions": Setting("", from_assistant=True),
    "tools": Setting([], from_assistant=True),
    "metadata": Setting({}),
    "usage": LIFECYCLE,
    "temperature": Setting(1.0, from_assistant=True),
    "top_p": Setting(1.0, from_assistant=True),
    "max_prompt_tokens": Setting(),
    "max_completion_tokens": Setting(),
    "truncation_strategy": Setting({"type": "auto", "last_messages": None}),
    "tool_choice": Setting("auto"),
    "parallel_tool_calls": Setting(True),
    "response_format": Setting("auto", from_assistant=True),
}

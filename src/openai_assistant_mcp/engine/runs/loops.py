"""Rounds where a small model does not move on, and what the turn does instead (docs/runs.md,
"Small models that loop or ignore tool_choice"):

- **A call repeated after its output.** A round whose calls are all the same (name and
  JSON-equal arguments) as calls the model already has outputs for in this run is a loop
  (Qwen2.5-0.5B writes the call again after reading its output, until the round limit). Its
  function calls are answered with the earlier outputs (not sent to `requires_action` again),
  its built-in calls run again, and the next round is asked with `tool_choice: "none"` and an
  instruction to answer (`answer_now`). Only where text tool calls are recognised (not on
  OpenAI's own API, which sends every call on).
- **A forced function not called.** When `tool_choice` names a function and the model answers
  with text (llama.cpp ignores a named tool_choice), the round is asked once more with an
  instruction to write the call (`call_now`); a second text answer fails the run, saying so."""

from __future__ import annotations

import json
from typing import Any

from .builtin import BuiltinTool
from .prompt import answer_now_text
from .stream import ToolCall

CALL_NOW = (
    "Call the function {name} now. Reply with only the call, as JSON: "
    '{{"name": "{name}", "arguments": {{...}}}}'
)


def _canonical(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments or "{}", strict=False), sort_keys=True)
    except ValueError:
        return arguments.strip()


def answered(transcript: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """The calls of this run the model has outputs for: (name, arguments) -> the output."""
    outputs = {m.get("tool_call_id"): m.get("content") for m in transcript if m["role"] == "tool"}
    found: dict[tuple[str, str], str] = {}
    for message in transcript:
        for call in message.get("tool_calls") or ():
            output = outputs.get(call["id"])
            if isinstance(output, str):
                function = call["function"]
                found[(function["name"], _canonical(function["arguments"]))] = output
    return found


def repeated_outputs(calls: list[ToolCall], transcript: list[dict[str, Any]]) -> list[str] | None:
    """The earlier outputs of `calls` when every one repeats a call answered in this run
    (None: at least one is new)."""
    known = answered(transcript)
    outputs = [known.get((call.name, _canonical(call.arguments))) for call in calls]
    if not calls or any(output is None for output in outputs):
        return None
    return [output for output in outputs if output is not None]


def answer_now(request: dict[str, Any], offered: dict[str, BuiltinTool]) -> dict[str, Any]:
    """The request asking the model to answer from the outputs it has, calling nothing
    (`offered`: the run's built-in tools by function name)."""
    if not request.get("tools"):
        return request
    told = answer_now_text(request["messages"], offered)
    if request["messages"] and request["messages"][-1].get("content") == told:
        return {**request, "tool_choice": "none"}  # told already (after a forced built-in)
    messages = [*request["messages"], {"role": "system", "content": told}]
    return {**request, "messages": messages, "tool_choice": "none"}


def call_now(request: dict[str, Any], name: str) -> dict[str, Any]:
    """The request asking again for the call `tool_choice` forces, told plainly."""
    told = {"role": "system", "content": CALL_NOW.format(name=name)}
    return {**request, "messages": [*request["messages"], told]}


def not_called(name: str) -> str:
    return (
        f"The model answered with text instead of calling {name}, which the run's tool_choice "
        "requires, even when asked again; the provider may ignore a named tool_choice "
        '(llama.cpp does). Use tool_choice "auto" or a model that follows it.'
    )

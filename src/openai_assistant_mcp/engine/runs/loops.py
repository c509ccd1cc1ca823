"""Rounds where a small model does not move on, and what the turn does instead (docs/runs.md,
"Small models that loop or ignore tool_choice"):

- **A call repeated after its output.** A round whose calls are all the same (name and
  JSON-equal arguments) as calls the model already has outputs for in this run is a loop
  (Qwen2.5-0.5B writes the call again after reading its output, until the round limit). Its
  function calls are answered with the earlier outputs (not sent to `requires_action` again),
  its built-in calls run again, and the next round is asked with `tool_choice: "none"` and an
  instruction to answer (`answer_now`). Only where text tool calls are recognised (not on
  OpenAI's own API, which sends every call on).
- **No answer after a clean output.** After code that ran without an error and printed its
  result, Qwen2.5-0.5B wrote yet another call (rewriting the same computation) instead of
  answering. The next round gets a system message last saying the output is above and to
  answer from it if it answers the question (`answer_if_done`); tools stay offered, so a model
  that needs more code still calls it. Only where text tool calls are recognised.
- **A forced function not called.** When `tool_choice` names a function, or is `"required"`,
  and the model answers with text (llama.cpp ignores both), the round is asked once more with
  an instruction to write the call (`call_now`); a second text answer fails the run, saying so."""

from __future__ import annotations

import json
from typing import Any

from .builtin import BuiltinTool
from .prompt import answer_now_text
from .round import Forced
from .stream import ToolCall

ANSWER_IF_DONE = (
    "The tool ran; its output is above. If it answers the user's question, answer now in plain "
    "text, giving the result. Call a tool again only if more is needed."
)
CALL_NOW = (
    "Call the function {name} now. Reply with only the call, as JSON: "
    '{{"name": "{name}", "arguments": {{...}}}}'
)
CALL_ANY_NOW = (
    "Call one of the functions now ({names}). Reply with only the call, as JSON: "
    '{{"name": "<function>", "arguments": {{...}}}}'
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


def answer_if_done(request: dict[str, Any]) -> dict[str, Any]:
    """The request after built-in calls that ran cleanly (code that printed its result), with
    the model reminded that it may answer now; tools stay offered (`tool_choice` unchanged)."""
    told = {"role": "system", "content": ANSWER_IF_DONE}
    return {**request, "messages": [*request["messages"], told]}


def call_now(request: dict[str, Any], forced: Forced) -> dict[str, Any]:
    """The request asking again for the call `tool_choice` forces, told plainly."""
    if forced.name is not None:
        text = CALL_NOW.format(name=forced.name)
    else:
        names = [tool["function"]["name"] for tool in request.get("tools") or ()]
        text = CALL_ANY_NOW.format(names=", ".join(names))
    told = {"role": "system", "content": text}
    return {**request, "messages": [*request["messages"], told]}


def not_called(forced: Forced) -> str:
    if forced.name is None:
        return (
            "The model answered with text instead of calling a tool, which the run's tool_choice "
            '"required" requires, even when asked again; the provider may ignore tool_choice '
            '(llama.cpp does). Use tool_choice "auto" or a model that follows it.'
        )
    return (
        f"The model answered with text instead of calling {forced.name}, which the run's "
        "tool_choice requires, even when asked again; the provider may ignore a named "
        'tool_choice (llama.cpp does). Use tool_choice "auto" or a model that follows it.'
    )

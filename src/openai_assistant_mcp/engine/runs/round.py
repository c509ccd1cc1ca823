"""One provider round of a turn: the request streamed into the turn's record.

Text goes to the message being written and tool calls to the round's step as they arrive,
except text that may still be a tool call written as text (held back until decided, see
`text_calls`); the stream is cut at the engine's output cap, at a call written over and over,
or past the completion budget a provider ignores (`budget`). When the request forces a named
function or any call (`tool_choice`) on a provider whose models may miss it (text tool calls
looked for), the whole answer is held: text instead of the call is not shown (the turn decides
what happens then, see `loops`)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from ..providers.chat import ChatProvider
from . import text_calls
from .budget import Counter, over_limit
from .builtin import BuiltinContext, BuiltinTool
from .record import Record


@dataclass
class Streamed:
    """How the round's stream ended."""

    capped: bool = False  # cut at the output cap or the completion budget
    # The text the model answered instead of the call the request forced (not shown).
    instead: str | None = None


def forced_name(request: dict[str, Any]) -> str | None:
    """The function the request's tool_choice names, if it forces one."""
    choice = request.get("tool_choice")
    name = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    return name if isinstance(name, str) else None


@dataclass(frozen=True)
class Forced:
    """A call the request's tool_choice requires: of the function `name`, or (None) of any
    offered tool (`"required"`)."""

    name: str | None


def forced_call(request: dict[str, Any]) -> Forced | None:
    """The call the request's tool_choice requires, if any."""
    if request.get("tool_choice") == "required" and request.get("tools"):
        return Forced(None)
    name = forced_name(request)
    return None if name is None else Forced(name)


async def engine_call(
    request: dict[str, Any],
    offered: dict[str, BuiltinTool],
    context: BuiltinContext | None,
) -> text_calls.TextCall | None:
    """The call the engine makes itself when the request forces a built-in tool that can say
    how (file_search: the newest user message as the query) and the model does not call it:
    small local servers ignore a named `tool_choice` (llama.cpp does)."""
    name = forced_name(request)
    tool = offered.get(name or "")
    forced_arguments = getattr(tool, "forced_arguments", None)
    if name is None or context is None or forced_arguments is None:
        return None
    arguments = await forced_arguments(context)
    return text_calls.TextCall(name, arguments) if arguments else None


async def stream_round(
    provider: ChatProvider,
    api_key: str | None,
    cap: int,
    rec: Record,
    request: dict[str, Any],
    engine_made: text_calls.TextCall | None = None,
) -> Streamed:
    """Stream one answer into `rec` (see the module docstring); `engine_made` is the call
    taken when the model makes none (`engine_call`)."""
    answer = rec.answer
    looked_for = text_calls.looked_for(request, provider.text_tool_calls)
    # A forced call's round is held whole where models miss it (not OpenAI, which obeys): an
    # answer instead of the call is not shown.
    forced = forced_call(request) if looked_for or engine_made else None
    held = text_calls.Held(
        looked_for, hold_all=forced is not None, code_tool=text_calls.code_tool(request)
    )
    streamed = Streamed()
    limit, counted = over_limit(request), Counter()
    chunks = provider.stream(request, api_key)
    async with contextlib.aclosing(chunks):
        async for chunk in chunks:
            piece = answer.feed(chunk)
            if piece.text and (shown := held.pass_on(piece.text, bool(answer.calls))):
                rec.on_text(shown)
            for call, item in piece.calls:
                rec.on_tool_call(call, item)
            if answer.chars > cap:  # a provider that streams forever: stop here
                streamed.capped = True
                break
            if held.repeating:  # the model writes the same call again and again: enough
                break
            if limit and counted.add(piece.text, piece.arguments) > limit:
                # The provider ignores the budget: stop here, and send it as it may know.
                provider.budget_ignored()
                streamed.capped = True
                break
    rest, found = held.finish(streamed.capped or bool(answer.calls))
    if engine_made is not None and not (found or answer.calls or streamed.capped):
        rest, found = "", [engine_made]
    for call, item in answer.adopt(found):  # calls written as text: the round's calls
        rec.on_tool_call(call, item)
    if forced is not None and not (answer.calls or streamed.capped):
        answer.text = []
        streamed.instead = rest  # held back: the turn asks again or fails
    elif rest:
        rec.on_text(rest)
    return streamed

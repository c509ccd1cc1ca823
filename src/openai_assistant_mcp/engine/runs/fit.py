"""Fitting a request into the model's context window (when the engine knows it: see
providers/context.py): room is kept for the answer, the thread's oldest messages are dropped as
`truncation_strategy` allows, and what is left tells built-in tools how long their output may
be. A request that cannot fit fails the run naming both token counts.

Tokens are counted with cl100k (OpenAI's tokenizer, bundled): a local model's tokenizer counts
differently (Qwen2.5's within ~10% on English and code), and its chat template adds a few tokens
per message, hence the margins."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from ..vectors.text import count_tokens
from .stream import ToolCall, chat_tool_call

# Tokens a chat template adds around each message, and the share added for another tokenizer.
PER_MESSAGE = 8
MARGIN = 1.15
# The answer's room when the run sets no max_completion_tokens: a quarter of the window,
# at least this many tokens (and at most half the window).
MIN_ANSWER_TOKENS = 256


@dataclass
class Fitted:
    request: dict[str, Any]
    prompt_tokens: int  # the estimate for the request as fitted
    budget: int  # what the prompt may take: the window less the answer's room
    answer: int  # the answer's room

    @property
    def room(self) -> int:
        """Tokens left for tool outputs in this round's conversation."""
        return max(0, self.budget - self.prompt_tokens)


class DoesNotFit(Exception):
    def __init__(self, prompt_tokens: int, window: int, answer: int) -> None:
        super().__init__(f"{prompt_tokens} > {window}")
        self.prompt_tokens, self.window, self.answer = prompt_tokens, window, answer


def message_tokens(message: dict[str, Any]) -> int:
    content = message.get("content")
    if isinstance(content, list):
        text = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    else:
        text = content or ""
    calls = json.dumps(message["tool_calls"]) if message.get("tool_calls") else ""
    return math.ceil(count_tokens(text + calls) * MARGIN) + PER_MESSAGE


def tools_tokens(request: dict[str, Any]) -> int:
    tools = request.get("tools")
    return math.ceil(count_tokens(json.dumps(tools)) * MARGIN) if tools else 0


def answer_room(request: dict[str, Any], window: int) -> int:
    asked = request.get("max_completion_tokens") or request.get("max_tokens")
    room = int(asked) if asked else max(MIN_ANSWER_TOKENS, window // 4)
    return min(room, window // 2)


def fit(
    request: dict[str, Any], run: dict[str, Any], transcript_length: int, window: int
) -> Fitted:
    """`request` fitted into `window` tokens (see the module docstring); DoesNotFit when even
    the newest message and this run's own exchange do not fit."""
    answer = answer_room(request, window)
    budget = window - answer
    messages = list(request["messages"])
    costs = [message_tokens(m) for m in messages]
    total = sum(costs) + tools_tokens(request)
    # The thread's messages lie between the system message and this run's exchange.
    first = 1 if messages and messages[0].get("role") == "system" else 0
    last = len(messages) - transcript_length  # one past the thread's newest message
    may_drop = (run.get("truncation_strategy") or {}).get("type", "auto") == "auto"
    while total > budget and may_drop and last - first > 1:
        total -= costs.pop(first)
        messages.pop(first)
        last -= 1
    if total > budget:
        raise DoesNotFit(total, window, answer)
    return Fitted({**request, "messages": messages}, total, budget, answer)


def output_room(fitted: Fitted | None, calls: list[ToolCall]) -> int | None:
    """Tokens each built-in call's output may take so the next round still fits (None: the
    window is unknown)."""
    if fitted is None:
        return None
    said = message_tokens({"tool_calls": [chat_tool_call(c) for c in calls]})
    room = max(0, fitted.room - said - PER_MESSAGE * len(calls)) // max(1, len(calls))
    return int(room / MARGIN)  # counted as the tool sees them: in cl100k tokens

"""Token budgets on any provider: the run's usage and `max_completion_tokens`, kept by the engine
when the provider does not (llama-cpp-python ignores `max_completion_tokens` and streams no
usage).

- A round's streamed text and tool-call arguments are counted (cl100k); past the request's
  completion budget plus a margin (a provider that honours it has stopped by then, counting with
  its own tokenizer) the stream is closed and the run ends `incomplete`.
- A round the provider reported no usage for gets an estimate: the request's tokens and the
  answer's, counted the same way (docs/runs.md says so: the spec's usage has no field for it)."""

from __future__ import annotations

import json
from typing import Any

from ..vectors.text import count_tokens
from .stream import Answer

# Tokens a chat template adds around each message (an estimate, as usage is then).
PER_MESSAGE = 4


def over_limit(request: dict[str, Any]) -> int | None:
    """The count of streamed tokens past which the round is stopped (None: no budget)."""
    asked = request.get("max_completion_tokens") or request.get("max_tokens")
    if not asked:
        return None
    return int(asked) + max(16, int(asked) // 5)


class Counter:
    """Completion tokens of one streamed round, counted as they arrive."""

    def __init__(self) -> None:
        self.tokens = 0

    def add(self, answer_text: str, arguments: list[str]) -> int:
        text = answer_text + "".join(arguments)
        if text:
            self.tokens += count_tokens(text)
        return self.tokens


def estimated_usage(request: dict[str, Any], answer: Answer) -> dict[str, int]:
    """The round's usage counted here: prompt (messages, tools) and completion tokens."""
    prompt = 0
    for message in request.get("messages") or []:
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        calls = json.dumps(message["tool_calls"]) if message.get("tool_calls") else ""
        prompt += count_tokens((content or "") + calls) + PER_MESSAGE
    if request.get("tools"):
        prompt += count_tokens(json.dumps(request["tools"]))
    said = answer.said + "".join(call.name + call.arguments for call in answer.ordered_calls())
    return {"prompt_tokens": prompt, "completion_tokens": count_tokens(said)}


def spent_budget(run: dict[str, Any], execution: dict[str, Any]) -> str | None:
    """`max_prompt_tokens` or `max_completion_tokens` once the run has used it up."""
    used = execution.get("usage") or {}
    for name, used_key in (
        ("max_prompt_tokens", "prompt_tokens"),
        ("max_completion_tokens", "completion_tokens"),
    ):
        limit = run.get(name)
        if limit and int(used.get(used_key, 0)) >= limit:
            return name
    return None


def add_usage(execution: dict[str, Any], round_usage: dict[str, int]) -> dict[str, int]:
    """Add a round's usage to the run's (in `execution`); the round's usage as a step shows it."""
    usage = dict(execution.get("usage") or {})
    for key in ("prompt_tokens", "completion_tokens"):
        usage[key] = int(usage.get(key, 0)) + round_usage[key]
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    execution["usage"] = usage
    return {**round_usage, "total_tokens": sum(round_usage.values())}

"""One streamed chat completion, assembled: text, tool calls (from their deltas), finish, usage.

`Answer.feed(chunk)` returns what the chunk added, as the spec's stream deltas shape them, so
the turn only decides where each piece goes (a message, a tool-call step)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ToolCall:
    """A function call the model is making (its arguments grow as deltas arrive)."""

    index: int
    id: str
    name: str = ""
    arguments: str = ""


@dataclass
class Piece:
    """What one chunk added: answer `text`, and/or tool-call delta items (`calls`), each
    {"index", "id"?, "type": "function", "function": {"name"?, "arguments", "output"?}}."""

    text: str = ""
    calls: list[tuple[ToolCall, dict[str, Any]]] = field(default_factory=list)

    @property
    def arguments(self) -> list[str]:
        """The tool-call argument text this chunk added."""
        return [item["function"].get("arguments", "") for _, item in self.calls]


class Answer:
    """The model's answer as it streams in."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.calls: dict[int, ToolCall] = {}
        self.finish_reason: str | None = None
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0}
        self.usage_given = False  # whether the provider reported usage (else: estimated)
        self.chars = 0  # text and tool-call arguments received so far

    def feed(self, chunk: dict[str, Any]) -> Piece:
        piece = Piece()
        if chunk.get("usage"):
            self.usage_given = True
            self.usage = {
                "prompt_tokens": int(chunk["usage"].get("prompt_tokens") or 0),
                "completion_tokens": int(chunk["usage"].get("completion_tokens") or 0),
            }
        if not chunk.get("choices"):
            return piece
        choice = chunk["choices"][0]
        delta = choice.get("delta") or {}
        text = (delta.get("content") or "") + (delta.get("refusal") or "")
        if text:
            self.text.append(text)
            self.chars += len(text)
            piece.text = text
        for call_delta in delta.get("tool_calls") or ():
            piece.calls.append(self._on_call(call_delta))
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
        return piece

    def _on_call(self, delta: dict[str, Any]) -> tuple[ToolCall, dict[str, Any]]:
        index = int(delta.get("index", 0))
        call = self.calls.get(index)
        if call is None:
            call_id = delta.get("id") or f"call_{secrets.token_hex(12)}"
            call = self.calls[index] = ToolCall(index, call_id)
        function: dict[str, Any] = {"arguments": ""}
        given = delta.get("function") or {}
        if given.get("name"):
            call.name += given["name"]
            function["name"] = given["name"]
        if given.get("arguments"):
            call.arguments += given["arguments"]
            self.chars += len(given["arguments"])
            function["arguments"] = given["arguments"]
        item: dict[str, Any] = {"index": index, "type": "function", "function": function}
        if delta.get("id") or "name" in function:
            item["id"] = call.id
            function["output"] = None
        return call, item

    def adopt(self, written: list[Any]) -> list[tuple[ToolCall, dict[str, Any]]]:
        """Tool calls the model wrote as text (text_calls.TextCall: name, arguments) become the
        answer's calls, its text dropped; each with its delta item, as `feed` gives them."""
        if not written:
            return []
        self.text = []
        out = []
        for index, call in enumerate(written):
            made = ToolCall(index, f"call_{secrets.token_hex(12)}", call.name, call.arguments)
            self.calls[index] = made
            function = {"name": made.name, "arguments": made.arguments, "output": None}
            out.append(
                (made, {"index": index, "id": made.id, "type": "function", "function": function})
            )
        return out

    @property
    def said(self) -> str:
        return "".join(self.text)

    def ordered_calls(self) -> list[ToolCall]:
        return [self.calls[index] for index in sorted(self.calls)]


def function_call(call: ToolCall, *, with_output: bool) -> dict[str, Any]:
    """A function tool call as run steps (`with_output`) and `required_action` show it."""
    function: dict[str, Any] = {"name": call.name, "arguments": call.arguments}
    if with_output:
        function["output"] = None
    return {"id": call.id, "type": "function", "function": function}


def chat_tool_call(call: ToolCall) -> dict[str, Any]:
    """The call as the assistant message of the conversation the provider sees next."""
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }

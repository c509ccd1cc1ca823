"""The seam for built-in tools: server-side tools a run executes itself (file_search,
code_interpreter), recording a run step, without stopping at `requires_action`.

A built-in tool is offered to the provider as one ordinary function (`function()`); when the
model calls that function, the run's turn calls `call()` instead of waiting for tool outputs,
records the returned `tool_call` in a `tool_calls` run step, gives `model_output` back to the
model as the function's result, and asks the provider again. Function tools called in the same
model turn still stop the run at `requires_action` (the built-in calls are already recorded).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ...shapes.tools import BUILTIN_TOOL_TYPES

if TYPE_CHECKING:
    from ..state import EngineState


@dataclass
class BuiltinContext:
    """What a built-in tool may know about the run that calls it."""

    tenant: str
    run: dict[str, Any]  # the run object (tools, model, thread_id, assistant_id, ...)
    # Merged tool_resources: the run's override if any, else the thread's plus the assistant's,
    # e.g. {"file_search": {"vector_store_ids": [...]}, "code_interpreter": {"file_ids": [...]}}
    tool_resources: dict[str, Any]
    api_key: str | None  # the caller's key (for provider embeddings); never stored or logged
    services: EngineState  # the engine's store, settings and parts, for services calls
    include: frozenset[str] = frozenset()  # the run's `include[]` (e.g. file_search content)
    # Publishes a partial tool call while it executes (becomes thread.run.step.delta).
    progress: Callable[[dict[str, Any]], None] = lambda _delta: None
    # Built-in calls the run executed before this one (e.g. for source markers unique in a run).
    call_index: int = 0
    # The thread's messages as the turn read them (oldest first), e.g. for their attachments.
    thread_messages: list[dict[str, Any]] = field(default_factory=list)
    # Tokens the call's output may take so the model's context window still holds the next
    # request (None: the window is unknown); e.g. file_search returns fewer, shorter results.
    output_tokens: int | None = None


@dataclass
class BuiltinResult:
    """One executed built-in call."""

    tool_call: dict[str, Any]  # step_details.tool_calls[] entry without "id", e.g.
    # {"type": "file_search", "file_search": {"ranking_options": {...}, "results": [...]}}
    # {"type": "code_interpreter", "code_interpreter": {"input": "...", "outputs": [...]}}
    model_output: str  # the function result the model reads next
    # Extra facts for the final message: file_search sources by marker
    # ({"marker": "【4:0†source】", "file_id": ...}) and code_interpreter generated files
    # ({"file_id": ..., "path": "/mnt/data/x.csv"} / {"file_id": ..., "image": True}).
    sources: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    # The call ran without an error and gave output (code_interpreter): the model may well
    # answer from it now (small models are told so: loops.answer_if_done).
    ran_cleanly: bool = False


class BuiltinTool(Protocol):
    """A server-side tool type (`type` as in an assistant's `tools[]`)."""

    type: str
    function_name: str  # the function name offered to the provider; unique across tools

    def function(self, tool: dict[str, Any]) -> dict[str, Any]:
        """The Chat Completions `tools[]` entry offered for this assistant tool definition."""
        ...

    async def unavailable(self, ctx: BuiltinContext) -> str | None:
        """Why this tool cannot run here (e.g. no sandbox: what to install), else None."""
        ...

    async def call(self, ctx: BuiltinContext, arguments: str) -> BuiltinResult:
        """Execute one call; bad arguments or failures are a result the model sees, not a raise."""
        ...

    # Optional, looked up with getattr: `partial(arguments) -> dict | None`, the call as it is
    # being written (for the stream); `async describe(ctx) -> str | None`, what the model is told
    # of this run with the tool (added to its function's description, e.g. the files present);
    # `async forced_arguments(ctx) -> str | None`, the call's arguments when the run forces the
    # tool and the model does not call it (file_search: the user's question as the query);
    # `async close()`, what the tool holds released when the engine stops.


class BuiltinTools:
    """The built-in tools an executor runs: the explicit list it is given
    (engine/builtin_tools.py), looked up by tool type or by the function offered for it."""

    def __init__(self, tools: Iterable[BuiltinTool]) -> None:
        self._by_type: dict[str, BuiltinTool] = {}
        self._by_function: dict[str, BuiltinTool] = {}
        for tool in tools:
            if tool.type not in BUILTIN_TOOL_TYPES:
                raise ValueError(f"built-in tool type {tool.type!r} is not one the API knows")
            if tool.type in self._by_type or tool.function_name in self._by_function:
                raise ValueError(f"two built-in tools for {tool.type!r} / {tool.function_name!r}")
            self._by_type[tool.type] = tool
            self._by_function[tool.function_name] = tool

    def of_type(self, tool_type: str) -> BuiltinTool | None:
        """The built-in tool for an assistant tool `type`, if the engine executes it."""
        return self._by_type.get(tool_type)

    def by_function_name(self, name: str) -> BuiltinTool | None:
        return self._by_function.get(name)

    def offered(self, tools: list[dict[str, Any]]) -> dict[str, BuiltinTool]:
        """The built-in tools a run's `tools` offer the model, by their function name."""
        found = (self.of_type(tool.get("type", "")) for tool in tools)
        return {tool.function_name: tool for tool in found if tool is not None}

    async def close(self) -> None:
        """Release what the tools hold (e.g. code_interpreter's sandbox sessions)."""
        for tool in self._by_type.values():
            close = getattr(tool, "close", None)
            if close is not None:
                await close()

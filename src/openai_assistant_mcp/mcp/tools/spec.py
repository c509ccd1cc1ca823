"""A tool and a toolset as data: name, description, argument model, handler and effect.

Tool modules build their `TOOLSET` from these; `registry.py` assembles the toolsets. Nothing
here imports a tool module, so the tool modules and the registry form no import cycle.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel

from .common import Call, ToolResult, compact_schema

# What a tool does to the store; the MCP annotations (and read-only mode) follow from it.
Effect = Literal["read", "create", "update", "delete"]

A = TypeVar("A", bound=BaseModel)


@dataclass(frozen=True)
class ToolSpec(Generic[A]):
    """One tool: `handler` is called with the validated `args` model."""

    name: str
    description: str
    args: type[A]
    handler: Callable[[Call, A], Awaitable[ToolResult]]
    effect: Effect
    # True for tools that call the model provider (runs), an open-ended world.
    open_world: bool = False
    # True for tools that may wait on a run: their `timeout` argument defaults to the server's
    # RUN_WAIT_TIMEOUT, and over streamable HTTP they are answered with an SSE stream (pings).
    waits: bool = False
    # True for tools that may read a local file by its `path` argument (stdio only).
    reads_local_files: bool = False
    toolset: str = ""  # stamped by the Toolset holding the tool

    def __post_init__(self) -> None:
        fields = self.args.model_fields
        if self.waits and "timeout" not in fields:
            raise TypeError(f"{self.name}: a tool that waits takes a 'timeout' argument")
        if self.reads_local_files and "path" not in fields:
            raise TypeError(f"{self.name}: a tool that reads local files takes a 'path' argument")

    @property
    def read_only(self) -> bool:
        return self.annotations["readOnlyHint"]

    @cached_property
    def annotations(self) -> dict[str, bool]:
        """MCP tool annotations (readOnly/destructive/idempotent/openWorld hints)."""
        if self.effect == "read":
            return {"readOnlyHint": True, "openWorldHint": False}
        return {
            "readOnlyHint": False,
            "destructiveHint": self.effect == "delete",
            "idempotentHint": self.effect in ("update", "delete"),
            "openWorldHint": self.open_world,
        }

    @cached_property
    def input_schema(self) -> dict[str, Any]:
        return compact_schema(self.args)

    def listing(self) -> dict[str, Any]:
        """The tool as it appears in `tools/list`."""
        return {
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema,
            "annotations": self.annotations,
        }


@dataclass(frozen=True)
class Toolset:
    """A group of tools chosen together (OPENAI_ASSISTANT_TOOLSETS), described in one line."""

    name: str
    description: str
    tools: tuple[ToolSpec[Any], ...] = ()

    def __post_init__(self) -> None:
        stamped = tuple(replace(tool, toolset=self.name) for tool in self.tools)
        object.__setattr__(self, "tools", stamped)

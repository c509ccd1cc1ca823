"""The tool registry: every tool's name, toolset, effect, arguments and handler, as data."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel

from .common import Handler, compact_schema

# What a tool does to the store; the MCP annotations follow from it.
Effect = Literal["read", "create", "update", "delete"]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    args: type[BaseModel]
    handler: Handler
    effect: Effect
    toolset: str = ""
    # True for tools that call the model provider (runs), an open-ended world.
    open_world: bool = False

    @property
    def waits(self) -> bool:
        """Whether the tool may wait on a run (it takes a `timeout`)."""
        return "timeout" in self.args.model_fields

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


def all_tools() -> tuple[ToolSpec, ...]:
    """Every tool, in toolset order, each stamped with its toolset's name."""
    from . import assistants, files, messages, run_steps, runs, threads, vector_stores

    found: list[ToolSpec] = []
    for module in (assistants, threads, messages, runs, run_steps, files, vector_stores):
        for spec in module.TOOLS:
            found.append(replace(spec, toolset=module.TOOLSET))
    return tuple(found)


def select_tools(toolsets: Iterable[str], read_only: bool) -> tuple[ToolSpec, ...]:
    """The tools of the chosen toolsets; in read-only mode only those that change nothing."""
    wanted = set(toolsets)
    return tuple(
        spec for spec in all_tools() if spec.toolset in wanted and (spec.read_only or not read_only)
    )

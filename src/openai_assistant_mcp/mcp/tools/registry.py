"""The catalog: every toolset, in the order `tools/list` shows them, and the choice of tools a
configuration serves. The one place toolset names are listed (settings validate against it).

A new tool is a ToolSpec in its toolset's module; a new toolset, a module of that name exporting
`TOOLSET`, listed here. (Names, not imports: settings validate them without loading the tools,
which the stdio handshake does not wait for.) Then `scripts/gen_tool_table.py --write`
(README) and UPDATE_TOOLSNAPS=1 (tests/mcp/test_toolsnaps.py) record what clients will see."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .spec import Toolset, ToolSpec

TOOLSET_NAMES: tuple[str, ...] = (
    "assistants",
    "threads",
    "messages",
    "runs",
    "run_steps",
    "files",
    "vector_stores",
)


@cache
def toolsets() -> tuple[Toolset, ...]:
    """Every toolset, in TOOLSET_NAMES order (each module's `TOOLSET`)."""
    return tuple(import_module(f"{__package__}.{name}").TOOLSET for name in TOOLSET_NAMES)


def all_tools() -> tuple[ToolSpec[Any], ...]:
    """Every tool, in toolset order."""
    return tuple(tool for toolset in toolsets() for tool in toolset.tools)


def select_tools(toolsets: Iterable[str], read_only: bool) -> tuple[ToolSpec[Any], ...]:
    """The tools of the chosen toolsets; in read-only mode only those that change nothing."""
    wanted = set(toolsets)
    return tuple(
        spec for spec in all_tools() if spec.toolset in wanted and (spec.read_only or not read_only)
    )

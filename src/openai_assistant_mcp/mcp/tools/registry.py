"""The catalog: every toolset, in the order `tools/list` shows them, and the choice of tools a
configuration serves. The one place toolset names are listed (settings validate against it).

A new tool is a ToolSpec in its toolset's module; a new toolset, a module exporting `TOOLSET`
listed here. Then `scripts/gen_tool_table.py --write` (README) and UPDATE_TOOLSNAPS=1
(tests/mcp/test_toolsnaps.py) record what clients will see."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import assistants, files, messages, run_steps, runs, threads, vector_stores
from .spec import Toolset, ToolSpec

TOOLSETS: tuple[Toolset, ...] = (
    assistants.TOOLSET,
    threads.TOOLSET,
    messages.TOOLSET,
    runs.TOOLSET,
    run_steps.TOOLSET,
    files.TOOLSET,
    vector_stores.TOOLSET,
)
TOOLSET_NAMES: tuple[str, ...] = tuple(toolset.name for toolset in TOOLSETS)


def all_tools() -> tuple[ToolSpec[Any], ...]:
    """Every tool, in toolset order."""
    return tuple(tool for toolset in TOOLSETS for tool in toolset.tools)


def select_tools(toolsets: Iterable[str], read_only: bool) -> tuple[ToolSpec[Any], ...]:
    """The tools of the chosen toolsets; in read-only mode only those that change nothing."""
    wanted = set(toolsets)
    return tuple(
        spec for spec in all_tools() if spec.toolset in wanted and (spec.read_only or not read_only)
    )

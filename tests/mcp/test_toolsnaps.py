"""Tool schema snapshots: every tool of the default configuration's `tools/list` answer (the
console script over stdio, as a client reads it) is committed in tests/mcp/toolsnaps/<name>.json.
A changed name, description, schema or annotation fails here until the snapshots are rewritten:

    UPDATE_TOOLSNAPS=1 uv run --locked pytest tests/mcp/test_toolsnaps.py

which writes every listed tool's file and deletes the files of tools no longer listed; review
the diff (`git diff tests/mcp/toolsnaps`) like any other change to what clients see."""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any

import pytest

SNAPS = Path(__file__).parent / "toolsnaps"
UPDATE = os.environ.get("UPDATE_TOOLSNAPS") == "1"
HOW_TO_UPDATE = "UPDATE_TOOLSNAPS=1 uv run --locked pytest tests/mcp/test_toolsnaps.py"


def snapshot_text(tool: dict[str, Any]) -> str:
    """A tool as its snapshot file holds it: sorted keys, two-space indent, final newline."""
    return json.dumps(tool, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.fixture(scope="module")
def listed_tools(default_stdio_surface: dict[str, bytes]) -> list[dict[str, Any]]:
    """The default configuration's tools/list answer, read off the wire."""
    lines = [default_stdio_surface["initialize"], default_stdio_surface["tools/list"]]
    tools: list[dict[str, Any]] = json.loads(lines[1])["result"]["tools"]
    assert tools, "tools/list answered no tools"
    return tools


def test_every_listed_tool_matches_its_snapshot(listed_tools: list[dict[str, Any]]) -> None:
    changed: list[str] = []
    for tool in listed_tools:
        path = SNAPS / f"{tool['name']}.json"
        text = snapshot_text(tool)
        if UPDATE:
            SNAPS.mkdir(exist_ok=True)
            if not path.exists() or path.read_text() != text:
                path.write_text(text)
            continue
        if not path.exists():
            changed.append(f"{tool['name']}: no snapshot ({path.relative_to(SNAPS.parent)})")
            continue
        old = path.read_text()
        if old != text:
            diff = difflib.unified_diff(
                old.splitlines(), text.splitlines(), f"{path.name} (snapshot)", "tools/list", n=1
            )
            changed.append("\n".join(diff))
    assert not changed, (
        "tools/list differs from the committed snapshots; if the change is intended, run\n"
        f"    {HOW_TO_UPDATE}\n\n" + "\n\n".join(changed)
    )


def test_no_snapshot_outlives_its_tool(listed_tools: list[dict[str, Any]]) -> None:
    names = {tool["name"] for tool in listed_tools}
    stale = sorted(p for p in SNAPS.glob("*.json") if p.stem not in names)
    if UPDATE:
        for path in stale:
            path.unlink()
        return
    assert not stale, (
        f"snapshots of tools no longer listed: {[p.name for p in stale]}; run {HOW_TO_UPDATE}"
    )

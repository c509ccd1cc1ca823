"""Snapshots of what clients see besides tools (like tests/mcp/test_toolsnaps.py for tools):
the default configuration's capabilities (on the 2025 handshake and on 2026-07-28), prompts
and resource templates, read off the wire of the console script over stdio, committed in
tests/mcp/surfacesnaps/. A change fails here until the snapshots are rewritten:

    UPDATE_TOOLSNAPS=1 uv run --locked pytest tests/mcp/test_surface_snapshots.py

and the diff (`git diff tests/mcp/surfacesnaps`) is reviewed like any change to the surface."""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.mcp.servers import server_env, stdio_client

SNAPS = Path(__file__).parent / "surfacesnaps"
UPDATE = os.environ.get("UPDATE_TOOLSNAPS") == "1"
HOW_TO_UPDATE = "UPDATE_TOOLSNAPS=1 uv run --locked pytest tests/mcp/test_surface_snapshots.py"


@pytest.fixture(scope="module")
def surface(
    default_stdio_surface: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    lines = [
        default_stdio_surface[method]
        for method in ("initialize", "prompts/list", "resources/templates/list")
    ]
    answers = [json.loads(line)["result"] for line in lines]

    async def discovered() -> dict[str, Any]:
        """What the SDK's client learns with server/discover (protocol 2026-07-28)."""
        with anyio.fail_after(120):
            async with stdio_client(server_env(tmp_path_factory.mktemp("discover"))) as client:
                assert client.protocol_version == "2026-07-28"
                caps = client.server_capabilities
                return caps.model_dump(by_alias=True, mode="json", exclude_none=True)

    return {
        "capabilities": answers[0]["capabilities"],
        "capabilities_2026": anyio.run(discovered),
        "prompts": answers[1]["prompts"],
        "resource_templates": answers[2]["resourceTemplates"],
    }


@pytest.mark.parametrize(
    "name", ["capabilities", "capabilities_2026", "prompts", "resource_templates"]
)
def test_the_surface_matches_its_snapshot(surface: dict[str, Any], name: str) -> None:
    path = SNAPS / f"{name}.json"
    text = json.dumps(surface[name], indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if UPDATE:
        SNAPS.mkdir(exist_ok=True)
        path.write_text(text)
        return
    assert path.exists(), f"no snapshot {path.name}; run {HOW_TO_UPDATE}"
    old = path.read_text()
    diff = "\n".join(
        difflib.unified_diff(old.splitlines(), text.splitlines(), path.name, "on the wire", n=1)
    )
    assert old == text, (
        f"{name} differs from its snapshot; if intended, run\n{HOW_TO_UPDATE}\n{diff}"
    )

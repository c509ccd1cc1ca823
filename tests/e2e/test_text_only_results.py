"""MCP_RESULT_IMAGES=false (issue 24): for text-only clients (mcpo, so OpenWebUI through it),
a chart made by code_interpreter is left out of the tool result, whose summary and JSON still
name the image file (to fetch with get_file_content); by default it is MCP image content."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from openai_assistant_mcp.engine.sandbox import SandboxSettings
from tests.mcp.servers import COMMAND, server_env
from tests.mcp.workflow import call
from tests.support.sandbox import sandbox_settings
from tests.support.scripted_provider import EchoToolResult, RunCode, ScriptedProvider

__all__ = ["sandbox_settings"]  # the fixture: bwrap present (or skip) and the venv built

CHART = "import matplotlib.pyplot as plt\nplt.plot([2, 5, 3])\nplt.show()"


@pytest.mark.parametrize("images", ["true", "false"])
async def test_images_are_left_out_of_text_only_results(
    images: str,
    sandbox_settings: SandboxSettings,
    model_provider: ScriptedProvider,
    tmp_path: Path,
) -> None:
    model_provider.script(RunCode(), EchoToolResult("Done:"))
    env = server_env(
        tmp_path / "data", model_provider.base_url, OPENAI_API_KEY="sk-text-only",
        MCP_RESULT_IMAGES=images,
    )  # fmt: skip
    with anyio.fail_after(180):
        async with Client(StdioServerParameters(command=COMMAND, env=env)) as client:
            assistant = await call(
                client, "create_assistant",
                {"model": "m", "tools": [{"type": "code_interpreter"}]},
            )  # fmt: skip
            message = {"role": "user", "content": f"```python\n{CHART}\n```"}
            result = await client.call_tool(
                "create_thread_and_run",
                {"assistant_id": assistant["id"], "thread": {"messages": [message]}},
            )
    assert not result.is_error
    summary = result.content[0].text  # type: ignore[union-attr]
    assert "1 image(s)" in summary
    kinds = [part.type for part in result.content]
    assert kinds == (["text", "text", "image"] if images == "true" else ["text", "text"])
    data = result.structured_content
    assert data is not None
    [executed] = data["code_interpreter"]["calls"]
    (image,) = [o for o in executed["code_interpreter"]["outputs"] if o["type"] == "image"]
    assert image["image"]["file_id"] in result.content[1].text  # type: ignore[union-attr]

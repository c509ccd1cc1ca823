"""code_interpreter through a real MCP client (stdio): a run tool's result carries the code,
its logs and the chart as MCP image content, and the generated file is fetched by its ID."""

from __future__ import annotations

import base64
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

from openai_assistant_mcp.engine.sandbox import SandboxSettings
from tests.mcp.servers import COMMAND, server_env
from tests.mcp.workflow import call
from tests.support.sandbox import sandbox_settings
from tests.support.scripted_provider import EchoToolResult, RunCode, ScriptedProvider

__all__ = ["sandbox_settings"]  # the fixture: bwrap present (or skip) and the venv built

CODE = (
    "import matplotlib.pyplot as plt\nplt.plot([2, 5, 3])\n_ = plt.title('trend')\n"
    "open('/mnt/data/totals.csv', 'w').write('total\\n10\\n')\nprint('sum', 2 + 5 + 3)"
)


async def test_run_result_shows_code_logs_chart_and_files(
    sandbox_settings: SandboxSettings, model_provider: ScriptedProvider, tmp_path: Path
) -> None:
    model_provider.script(RunCode(), EchoToolResult("Done:"))
    env = server_env(tmp_path / "data", model_provider.base_url, OPENAI_API_KEY="sk-mcp-ci")
    with anyio.fail_after(90):
        async with Client(StdioServerParameters(command=COMMAND, env=env)) as client:
            assistant = await call(
                client,
                "create_assistant",
                {"model": "gpt-test", "tools": [{"type": "code_interpreter"}]},
            )
            message = {"role": "user", "content": f"Chart this:\n```python\n{CODE}\n```"}
            result = await client.call_tool(
                "create_thread_and_run",
                {"assistant_id": assistant["id"], "thread": {"messages": [message]}},
            )
            assert not result.is_error, result.content[0].text  # type: ignore[union-attr]
            text = result.content[0].text  # type: ignore[union-attr]
            assert ": completed. Code interpreter: 1 execution(s), 1 image(s)" in text
            data = result.structured_content
            assert data is not None
            [executed] = data["code_interpreter"]["calls"]
            assert executed["code_interpreter"]["input"] == CODE + "\n"
            logs = [
                o["logs"] for o in executed["code_interpreter"]["outputs"] if o["type"] == "logs"
            ]
            assert logs == ["sum 10"]
            [image] = [part for part in result.content if part.type == "image"]
            assert image.mime_type == "image/png"  # type: ignore[union-attr]
            png = base64.b64decode(image.data)  # type: ignore[union-attr]
            assert png.startswith(b"\x89PNG\r\n\x1a\n")

            [made] = data["code_interpreter"]["files"]
            assert made["path"] == "sandbox:/mnt/data/totals.csv"
            assert f"sandbox:/mnt/data/totals.csv = {made['file_id']}" in text
            read = await call(client, "get_file_content", {"file_id": made["file_id"]})
            assert (read["encoding"], read["content"]) == ("text", "total\n10\n")

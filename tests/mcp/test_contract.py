"""The contract users' configs depend on: tool names, schemas, annotations, the size of
`tools/list`, toolsets and read-only mode, flags over env, `--help`, the README tool table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from openai_assistant_mcp.mcp.app import ToolServer
from openai_assistant_mcp.mcp.tools.registry import all_tools
from openai_assistant_mcp.settings import Settings
from tests.mcp.servers import (
    COMMAND,
    raw_stdio_exchange,
    server_env,
    stdio_client,
)

TOOL_NAMES = [
    "create_assistant",
    "get_assistant",
    "list_assistants",
    "modify_assistant",
    "delete_assistant",
    "create_thread",
    "get_thread",
    "modify_thread",
    "delete_thread",
    "create_message",
    "get_message",
    "list_messages",
    "modify_message",
    "delete_message",
    "create_run",
    "create_thread_and_run",
    "list_runs",
    "get_run",
    "modify_run",
    "submit_tool_outputs",
    "cancel_run",
    "list_run_steps",
    "get_run_step",
    "upload_file",
    "list_files",
    "get_file",
    "get_file_content",
    "delete_file",
    "create_vector_store",
    "get_vector_store",
    "list_vector_stores",
    "modify_vector_store",
    "delete_vector_store",
    "add_vector_store_files",
    "list_vector_store_files",
    "delete_vector_store_file",
    "search_vector_store",
]
READ_ONLY = {name for name in TOOL_NAMES if name.startswith(("get_", "list_", "search_"))}
REPO = Path(__file__).resolve().parents[2]


def test_tools_list_on_the_wire(default_stdio_surface: dict[str, bytes]) -> None:
    """The whole tools/list answer, as bytes on stdout: small, inlined, annotated."""
    lines = [default_stdio_surface["initialize"], default_stdio_surface["tools/list"]]
    assert json.loads(lines[0])["result"]["serverInfo"]["name"] == "openai-assistant-mcp"
    answer = lines[1]
    assert len(answer) <= 40_000, f"tools/list is {len(answer)} bytes"
    tools = json.loads(answer)["result"]["tools"]
    assert [tool["name"] for tool in tools] == TOOL_NAMES
    assert b"$ref" not in answer and b"$defs" not in answer
    for tool in tools:
        name, schema, hints = tool["name"], tool["inputSchema"], tool["annotations"]
        assert schema["type"] == "object", name
        assert "outputSchema" not in tool, name
        assert 20 < len(tool["description"]) < 300, name
        assert hints["readOnlyHint"] is (name in READ_ONLY), name
        if name not in READ_ONLY:
            assert hints["destructiveHint"] is name.startswith("delete_"), name
            assert hints["idempotentHint"] is name.startswith(("delete_", "modify_", "cancel_")), (
                name
            )


def test_tools_list_on_the_2026_wire_stays_lean(tmp_path: Path) -> None:
    """Protocol 2026-07-28 (one self-contained request): every toolset's tools, and nothing
    from resources, prompts, completion or the tasks extension, within the same 40 KB."""
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {
            "extensions": {"io.modelcontextprotocol/tasks": {}}
        },
        "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "0"},
    }
    [answer] = raw_stdio_exchange(
        server_env(tmp_path),
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}},
    )
    assert len(answer) <= 40_000, f"tools/list is {len(answer)} bytes"
    assert [tool["name"] for tool in json.loads(answer)["result"]["tools"]] == TOOL_NAMES


def test_parameters_follow_the_assistants_api() -> None:
    schemas = {spec.name: spec.input_schema for spec in all_tools()}
    for name in ("list_assistants", "list_messages", "list_runs", "list_run_steps"):
        assert {"limit", "order", "after", "before"} <= set(schemas[name]["properties"]), name
    assert "run_id" in schemas["list_messages"]["properties"]
    assert "include" in schemas["list_run_steps"]["properties"]
    assert "include" in schemas["get_run_step"]["properties"]
    for name in ("create_run", "create_thread_and_run", "submit_tool_outputs"):
        properties = schemas[name]["properties"]
        assert properties["wait"]["default"] is True
        assert properties["timeout"]["default"] < 60
    assert schemas["create_assistant"]["required"] == ["model"]
    assert set(schemas["submit_tool_outputs"]["required"]) == {
        "thread_id",
        "run_id",
        "tool_outputs",
    }


async def _listed(settings: Settings) -> list[dict[str, Any]]:
    """tools/list through a real MCP client session with the server in-process."""
    server = ToolServer(settings).lowlevel_server()
    async with Client(server) as client:
        result = await client.list_tools()
    return [tool.model_dump(by_alias=True, exclude_none=True) for tool in result.tools]


async def test_read_only_mode_lists_only_tools_that_change_nothing() -> None:
    tools = await _listed(Settings(read_only=True))
    assert {tool["name"] for tool in tools} == READ_ONLY
    assert all(tool["annotations"]["readOnlyHint"] for tool in tools)


async def test_toolsets_pick_groups_and_combine_with_read_only() -> None:
    tools = await _listed(Settings(toolsets="runs,run_steps"))
    assert [t["name"] for t in tools] == TOOL_NAMES[14:23]
    tools = await _listed(Settings(toolsets="messages", read_only=True))
    assert [t["name"] for t in tools] == ["get_message", "list_messages"]


async def test_a_filtered_out_tool_cannot_be_called() -> None:
    server = ToolServer(Settings(read_only=True)).lowlevel_server()
    async with Client(server) as client:
        result = await client.call_tool("delete_assistant", {"assistant_id": "asst_x"})
    assert result.is_error
    assert result.content[0].text == "Unknown tool 'delete_assistant'."


async def test_flags_override_env_over_stdio(tmp_path: Path) -> None:
    env = server_env(tmp_path, READ_ONLY="false", OPENAI_ASSISTANT_TOOLSETS="assistants")
    with anyio.fail_after(120):
        async with stdio_client(env, "--read-only", "--toolsets", "threads,messages") as client:
            names = [tool.name for tool in (await client.list_tools()).tools]
    assert names == ["get_thread", "get_message", "list_messages"]


def test_help_prints_usage_naming_every_setting() -> None:
    done = subprocess.run([COMMAND, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    for name in (
        "TRANSPORT",
        "HOST",
        "PORT",
        "OPENAI_API_KEY",
        "MCP_CREDENTIALS_PASSTHROUGH",
        "ASSISTANTS_API_URL",
        "OPENAI_ASSISTANT_TOOLSETS",
        "READ_ONLY",
        "DATABASE_URL",
        "DATA_DIR",
        "OPENAI_BASE_URL",
        "LOG_LEVEL",
    ):
        assert name in done.stdout, name
    api = subprocess.run([COMMAND, "api", "--help"], capture_output=True, text=True, timeout=120)
    assert api.returncode == 0 and "8663" in api.stdout


def test_bad_setting_is_refused_in_one_line(tmp_path: Path) -> None:
    env = server_env(tmp_path, TRANSPORT="carrier-pigeon")
    done = subprocess.run([COMMAND], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith("openai-assistant-mcp: error: invalid TRANSPORT:")
    )


def test_readme_tool_table_is_generated() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_tool_table.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr

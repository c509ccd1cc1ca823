"""The client configurations of docs/clients.md, tried as a new user would: each JSON block is
taken from the page as written (only the clone path, key and port are filled in)."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.e2e.test_mcpo import MCPO
from tests.mcp.fixtures import StartServer
from tests.mcp.servers import free_port, streamable_client
from tests.mcp.test_contract import TOOL_NAMES
from tests.mcp.workflow import call
from tests.support.scripted_provider import ScriptedProvider

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "clients.md"


def doc_servers() -> list[dict[str, Any]]:
    """Every server entry of the page's JSON blocks, in order."""
    blocks = re.findall(r"```json\n(.*?)```", DOC.read_text(), re.S)
    servers = []
    for block in blocks:
        servers.extend(json.loads(block)["mcpServers"].values())
    return servers


def fill(value: Any, key: str, port: int | None = None) -> Any:
    """The doc's placeholders replaced: clone path, key, port."""
    text = json.dumps(value).replace("/path/to/openai-assistant-mcp", str(REPO))
    text = text.replace("sk-your-key", key)
    if port is not None:
        text = text.replace("localhost:8662", f"127.0.0.1:{port}")
    return json.loads(text)


def machine_network_env() -> dict[str, str]:
    """This machine's CA bundle, proxy and package-index settings: what uv/uvx need to reach
    PyPI here. Not part of the documented config (a desktop client's environment has them)."""
    pattern = re.compile(r"SSL|CERT|PROXY|^UV_|^PIP_", re.I)
    return {k: v for k, v in os.environ.items() if pattern.search(k)}


def test_the_page_has_every_kind_of_config() -> None:
    servers = doc_servers()
    assert [s.get("command") for s in servers if "command" in s] == ["uv", "uvx", "docker"]
    assert [s["url"] for s in servers if "url" in s] == [
        "http://localhost:8662/mcp",
        "http://localhost:8662/sse",
    ]
    assert " ".join(MCPO) in DOC.read_text().replace(" \\\n  ", " ").replace('"', "")


@pytest.mark.parametrize("command", ["uv", "uvx"])
async def test_stdio_configs(
    command: str, tmp_path: Path, model_provider: ScriptedProvider
) -> None:
    config = next(s for s in doc_servers() if s.get("command") == command)
    key = "sk-doc-" + secrets.token_hex(6)
    config = fill(config, key)
    env = {
        **machine_network_env(),
        **config["env"],
        "DATA_DIR": str(tmp_path),
        "OPENAI_BASE_URL": model_provider.base_url,
    }
    params = StdioServerParameters(command=config["command"], args=config["args"], env=env)
    with (tmp_path / "stderr.log").open("w") as errlog:
        with anyio.fail_after(180):  # uvx builds the package on first use
            async with Client(stdio_client(params, errlog=errlog)) as client:
                assert [t.name for t in (await client.list_tools()).tools] == TOOL_NAMES
                done = await call(
                    client,
                    "create_thread_and_run",
                    {
                        "assistant_id": (await call(client, "create_assistant", {"model": "m"}))[
                            "id"
                        ],
                        "thread": {"messages": [{"content": "hello"}]},
                    },
                )
    assert done["run"]["status"] == "completed"
    assert model_provider.requests[-1].api_key == key


def test_docker_config_keeps_data_and_stays_attached() -> None:
    (config,) = [s for s in doc_servers() if s.get("command") == "docker"]
    args = config["args"]
    assert args[:3] == ["run", "-i", "--rm"]
    assert "openai-assistant-data:/data" in args and args[-1] == "openai-assistant-mcp"


async def test_streamable_http_config(start_server: StartServer) -> None:
    server = start_server(
        "multi-user-http", TRANSPORT="streamable-http", MCP_CREDENTIALS_PASSTHROUGH="true"
    )
    config = next(s for s in doc_servers() if s.get("url", "").endswith("/mcp"))
    config = fill(config, "sk-doc-http", server.port)
    async with streamable_client(config["url"], config["headers"]) as client:
        made = await call(client, "create_assistant", {"model": "m", "name": "from the docs"})
        assert (await call(client, "get_assistant", {"assistant_id": made["id"]}))["name"] == (
            "from the docs"
        )


def test_mcpo_config_file(start_server: StartServer, tmp_path: Path) -> None:
    uvx = shutil.which("uvx")
    if uvx is None:
        pytest.skip("uvx is not installed: cannot run mcpo in its own tool environment")
    server = start_server("multi-user-sse", TRANSPORT="sse", MCP_CREDENTIALS_PASSTHROUGH="true")
    config = next(s for s in doc_servers() if s.get("type") == "sse")
    (tmp_path / "mcpo.json").write_text(
        json.dumps({"mcpServers": {"openai-assistant": fill(config, "sk-doc-mcpo", server.port)}})
    )
    port = free_port()
    command = [uvx, *MCPO, "--config", str(tmp_path / "mcpo.json"), "--port", str(port)]
    command += ["--host", "127.0.0.1"]
    with (tmp_path / "mcpo.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}/openai-assistant"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, (tmp_path / "mcpo.log").read_text()
            try:
                spec = httpx2.get(f"{base}/openapi.json", timeout=2)
                if spec.status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "mcpo.log").read_text()
            time.sleep(0.3)
        assert {path.strip("/") for path in spec.json()["paths"]} == set(TOOL_NAMES)
        made = httpx2.post(f"{base}/create_assistant", json={"model": "gpt-4o"}, timeout=120)
        assert made.status_code == 200 and "asst_" in made.text, made.text
    finally:
        process.terminate()
        process.wait(10)


def _openwebui_allowed_hosts() -> str:
    """MCP_ALLOWED_HOSTS as the page's OpenWebUI (native) command sets it."""
    section = DOC.read_text().split("## OpenWebUI, natively", 1)[1].split("\n## ", 1)[0]
    (hosts,) = re.findall(r"MCP_ALLOWED_HOSTS='([^']+)'", section)
    return hosts


async def test_openwebui_native_streamable_http(start_server: StartServer) -> None:
    """As OpenWebUI's own MCP client connects: the SDK's streamable HTTP client in a session
    (mcp 1.x, protocol 2025-06-18), one `Authorization: Bearer` header and the Host of
    host.docker.internal; the single-user server with the page's settings."""
    token = secrets.token_hex(16)
    hosts = _openwebui_allowed_hosts()
    assert "host.docker.internal:*" in hosts
    server = start_server(
        "openwebui-native", TRANSPORT="streamable-http", OPENAI_API_KEY="sk-openwebui",
        MCP_AUTH_TOKEN=token, MCP_ALLOWED_HOSTS=hosts,
    )  # fmt: skip
    url = f"http://127.0.0.1:{server.port}/mcp"
    host = {"Host": f"host.docker.internal:{server.port}"}
    headers = {"Authorization": f"Bearer {token}", **host}
    async with streamable_client(url, headers, mode="legacy") as client:
        listed = await client.list_tools()
        assert sorted(tool.name for tool in listed.tools) == sorted(TOOL_NAMES)
        made = await call(client, "create_assistant", {"model": "m", "name": "from OpenWebUI"})
        assert made["name"] == "from OpenWebUI"
    # Without the token the door stays shut, as it is for a Host not listed (421).
    assert httpx2.post(url, json={}, headers=host, timeout=60).status_code == 401
    elsewhere = start_server(
        "openwebui-native-hosts", TRANSPORT="streamable-http", OPENAI_API_KEY="sk-openwebui",
        MCP_AUTH_TOKEN=token,
    )  # fmt: skip
    refused = httpx2.post(
        f"http://127.0.0.1:{elsewhere.port}/mcp", json={}, timeout=60,
        headers={"Authorization": f"Bearer {token}", "Host": "host.docker.internal:8662"},
    )  # fmt: skip
    assert refused.status_code == 421 and "MCP_ALLOWED_HOSTS" in refused.text

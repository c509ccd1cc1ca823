"""mcpo, the MCP-to-OpenAPI proxy OpenWebUI uses, from PyPI in its own tool environment, in
front of the server's SSE transport with the caller's X-OpenAI-API-Key (the guide's Method 3)."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest

from tests.mcp.fixtures import StartServer
from tests.mcp.servers import ServerProcess, free_port, sse_client_for
from tests.mcp.test_contract import TOOL_NAMES
from tests.mcp.workflow import call

# mcpo 0.0.20 needs the 1.x MCP client and a FastAPI that still takes its arguments.
MCPO = ["--from", "mcpo==0.0.20", "--with", "mcp<2", "--with", "fastapi==0.128.*", "mcpo"]
KEY = "sk-mcpo-" + secrets.token_hex(8)


@pytest.fixture(scope="module")
def sse_server(start_server: StartServer) -> ServerProcess:
    return start_server("passthrough-sse", TRANSPORT="sse", MCP_CREDENTIALS_PASSTHROUGH="true")


@pytest.fixture(scope="module")
def mcpo(sse_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """mcpo on a free port, connected to the SSE server; yields its base URL."""
    uvx = shutil.which("uvx")
    if uvx is None:
        pytest.skip("uvx is not installed: cannot run mcpo in its own tool environment")
    port = free_port()
    log_path: Path = tmp_path_factory.mktemp("mcpo") / "mcpo.log"
    command = [
        uvx,
        *MCPO,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--server-type",
        "sse",
        "--header",
        json.dumps({"X-OpenAI-API-Key": KEY}),
        "--",
        sse_server.url("/sse"),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # the first run installs mcpo from PyPI
        while True:
            if process.poll() is not None:
                pytest.fail(f"mcpo exited ({process.returncode}):\n{log_path.read_text()}")
            try:
                if httpx2.get(f"{base}/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mcpo did not start:\n{log_path.read_text()}")
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_mcpo_openapi_lists_every_tool(mcpo: str) -> None:
    spec = httpx2.get(f"{mcpo}/openapi.json", timeout=10).json()
    assert {path.strip("/") for path in spec["paths"]} == set(TOOL_NAMES)
    # Each tool became a POST operation whose body schema mcpo built from our input schema.
    create = spec["paths"]["/create_assistant"]["post"]
    assert "requestBody" in create


async def test_create_assistant_through_mcpo(mcpo: str, sse_server: ServerProcess) -> None:
    async with httpx2.AsyncClient(timeout=30) as http:
        answer = await http.post(
            f"{mcpo}/create_assistant",
            json={"model": "gpt-4o", "name": "Python helper", "instructions": "Help with Python."},
            headers={"X-OpenAI-API-Key": KEY},
        )
    assert answer.status_code == 200, answer.text
    found = re.search(r"asst_\w+", answer.text)
    assert found, answer.text
    # The assistant belongs to the key mcpo was given: that caller sees it over MCP.
    with anyio.fail_after(30):
        async with sse_client_for(sse_server.url("/sse"), {"X-OpenAI-API-Key": KEY}) as client:
            assistant = await call(client, "get_assistant", {"assistant_id": found.group()})
    assert assistant["name"] == "Python helper"
    assert KEY not in sse_server.log()


def test_mcpo_reports_tool_errors(mcpo: str) -> None:
    answer = httpx2.post(f"{mcpo}/get_assistant", json={"assistant_id": "asst_missing"}, timeout=30)
    assert answer.status_code == 500
    assert "No assistant found with id 'asst_missing'" in answer.text

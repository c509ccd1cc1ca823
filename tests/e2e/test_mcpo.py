"""mcpo, the MCP-to-OpenAPI proxy OpenWebUI uses, from PyPI in its own tool environment, in
front of the server's SSE transport with the caller's X-OpenAI-API-Key (the guide's Method 3),
and in front of its streamable HTTP transport (a session of the 1.x MCP client, whose answers
are JSON bodies, or SSE streams for run tools)."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client

from tests.mcp.fixtures import StartServer
from tests.mcp.servers import (
    ServerProcess,
    free_port,
    sse_client_for,
    stop_process,
    streamable_client,
)
from tests.mcp.test_contract import TOOL_NAMES
from tests.mcp.workflow import call
from tests.support.scripted_provider import Error, ScriptedProvider, Text

# mcpo 0.0.20 needs the 1.x MCP client and a FastAPI that still takes its arguments.
MCPO = ["--from", "mcpo==0.0.20", "--with", "mcp<2", "--with", "fastapi==0.128.*", "mcpo"]
KEY = "sk-mcpo-" + secrets.token_hex(8)


ENDPOINTS = {"sse": "/sse", "streamable-http": "/mcp"}
# The session's multi-user servers of each transport (tests/mcp/fixtures.py: start_server).
SERVER_NAMES = {"sse": "multi-user-sse", "streamable-http": "multi-user-http"}


@dataclass
class Target:
    """The server mcpo fronts, and its transport."""

    server: ServerProcess
    transport: str

    @property
    def url(self) -> str:
        return self.server.url(ENDPOINTS[self.transport])

    def client(self) -> Client:
        """Our own MCP client on the same server, as the caller mcpo acts for."""
        headers = {"X-OpenAI-API-Key": KEY}
        if self.transport == "sse":
            return sse_client_for(self.url, headers)
        return streamable_client(self.url, headers)


@pytest.fixture(scope="module", params=list(ENDPOINTS))
def target(request: pytest.FixtureRequest, start_server: StartServer) -> Target:
    transport = request.param
    server = start_server(
        SERVER_NAMES[transport], TRANSPORT=transport, MCP_CREDENTIALS_PASSTHROUGH="true"
    )
    return Target(server, transport)


@pytest.fixture(scope="module")
def mcpo(target: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """mcpo on a free port, connected to the server; yields its base URL."""
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
        target.transport,
        "--header",
        json.dumps({"X-OpenAI-API-Key": KEY}),
        "--",
        target.url,
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
        stop_process(process)


def test_mcpo_openapi_lists_every_tool(mcpo: str) -> None:
    spec = httpx2.get(f"{mcpo}/openapi.json", timeout=120).json()
    assert {path.strip("/") for path in spec["paths"]} == set(TOOL_NAMES)
    # Each tool became a POST operation whose body schema mcpo built from our input schema.
    create = spec["paths"]["/create_assistant"]["post"]
    assert "requestBody" in create


async def test_create_assistant_through_mcpo(mcpo: str, target: Target) -> None:
    async with httpx2.AsyncClient(timeout=120) as http:
        answer = await http.post(
            f"{mcpo}/create_assistant",
            json={"model": "gpt-4o", "name": "Python helper", "instructions": "Help with Python."},
            headers={"X-OpenAI-API-Key": KEY},
        )
    assert answer.status_code == 200, answer.text
    found = re.search(r"asst_\w+", answer.text)
    assert found, answer.text
    # The assistant belongs to the key mcpo was given: that caller sees it over MCP.
    with anyio.fail_after(120):
        async with target.client() as client:
            assistant = await call(client, "get_assistant", {"assistant_id": found.group()})
    assert assistant["name"] == "Python helper"
    assert KEY not in target.server.log()


async def test_a_run_through_mcpo_returns_the_answer(
    mcpo: str, model_provider: ScriptedProvider
) -> None:
    """A run tool waits and answers (over streamable HTTP, as an SSE stream to mcpo's client)."""
    model_provider.script(Text("Use a list comprehension."))
    async with httpx2.AsyncClient(timeout=60) as http:
        made = await http.post(f"{mcpo}/create_assistant", json={"model": "m"})
        assistant = re.search(r"asst_\w+", made.text)
        assert made.status_code == 200 and assistant, made.text
        arguments = {
            "assistant_id": assistant.group(),
            "thread": {"messages": [{"content": "How do I square a list?"}]},
        }
        answer = await http.post(f"{mcpo}/create_thread_and_run", json=arguments)
    assert answer.status_code == 200, answer.text
    assert ": completed." in answer.text and "Use a list comprehension." in answer.text


def test_mcpo_reports_tool_errors(mcpo: str) -> None:
    answer = httpx2.post(
        f"{mcpo}/get_assistant", json={"assistant_id": "asst_missing"}, timeout=120
    )
    assert answer.status_code == 500
    assert "No assistant found with id 'asst_missing'" in answer.text


# --- whole results for text-only clients (issue 9) ----------------------------------------------


def _parts(answer: httpx2.Response) -> tuple[str, dict[str, Any]]:
    """mcpo's answer to a tool: [summary line, the whole result parsed from its JSON text]."""
    assert answer.status_code == 200, answer.text
    summary, whole = answer.json()
    assert isinstance(summary, str) and "\n" not in summary
    assert isinstance(whole, dict), whole
    return summary, whole


async def test_get_assistant_through_mcpo_carries_the_whole_assistant(mcpo: str) -> None:
    """mcpo forwards only text: the text holds instructions, tools and metadata, not a summary."""
    weather = {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
    }
    async with httpx2.AsyncClient(timeout=120) as http:
        made = await http.post(
            f"{mcpo}/create_assistant",
            json={
                "model": "gpt-4o",
                "name": "Weather",
                "instructions": "Report the weather in Celsius.",
                "tools": [weather],
                "metadata": {"team": "forecast"},
            },
        )
        _, created = _parts(made)
        answer = await http.post(f"{mcpo}/get_assistant", json={"assistant_id": created["id"]})
    summary, assistant = _parts(answer)
    assert created["id"] in summary and "Weather" in summary
    assert assistant["instructions"] == "Report the weather in Celsius."
    assert assistant["tools"][0]["function"]["name"] == "get_weather"
    assert assistant["metadata"] == {"team": "forecast"}


async def test_a_run_the_provider_refuses_is_a_failed_run_through_mcpo(
    mcpo: str, model_provider: ScriptedProvider
) -> None:
    """A failed run is the tool's answer (HTTP 200 with status and last_error), not a 500."""
    model_provider.forever(Error(401, "Incorrect API key provided.", code="invalid_api_key"))
    async with httpx2.AsyncClient(timeout=60) as http:
        _, assistant = _parts(await http.post(f"{mcpo}/create_assistant", json={"model": "m"}))
        arguments = {"assistant_id": assistant["id"], "thread": {"messages": [{"content": "hi"}]}}
        summary, ran = _parts(await http.post(f"{mcpo}/create_thread_and_run", json=arguments))
        assert ran["run"]["status"] == "failed"
        assert ran["run"]["last_error"]["code"] == "invalid_api_key"
        assert ": failed (invalid_api_key: " in summary
        ids = {"thread_id": ran["run"]["thread_id"], "run_id": ran["run"]["id"]}
        _, again = _parts(await http.post(f"{mcpo}/get_run", json=ids))
    assert again["run"]["status"] == "failed" and again["run"]["last_error"]["message"]


async def test_list_messages_through_mcpo_carries_the_messages(mcpo: str) -> None:
    texts = [f"message number {n}" for n in range(3)]
    async with httpx2.AsyncClient(timeout=120) as http:
        thread = {"messages": [{"content": text} for text in texts]}
        _, made = _parts(await http.post(f"{mcpo}/create_thread", json=thread))
        answer = await http.post(
            f"{mcpo}/list_messages", json={"thread_id": made["id"], "order": "asc"}
        )
    summary, page = _parts(answer)
    assert summary == "3 messages."
    assert [m["content"][0]["text"]["value"] for m in page["data"]] == texts


def test_the_readme_and_the_docs_pin_the_mcpo_this_module_runs() -> None:
    """The pinned uvx line (plain `pip install mcpo` is broken against the MCP 2.x SDK)."""
    pinned = "uvx " + " ".join(f'"{a}"' if "<" in a or "*" in a else a for a in MCPO)
    repo = Path(__file__).resolve().parents[2]
    for doc in ("README.md", "docs/clients.md"):
        assert pinned in (repo / doc).read_text(), doc

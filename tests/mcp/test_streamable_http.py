"""Streamable HTTP sessions (protocol 2025-06-18, as Cursor, Claude and mcpo speak it): each
request POST is answered with one JSON body, or with an SSE stream when it asked for progress
or waits on a run (src/openai_assistant_mcp/mcp/transports/streamable_http.py)."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx2
import pytest
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from openai_assistant_mcp.mcp.tools.registry import all_tools
from tests.mcp.fixtures import StartServer
from tests.mcp.servers import INITIALIZE, ServerProcess, streamable_client
from tests.mcp.workflow import run_workflow
from tests.support.scripted_provider import ScriptedProvider, Text

PROTOCOL = INITIALIZE["params"]["protocolVersion"]


@pytest.fixture(scope="module")
def server(start_server: StartServer) -> ServerProcess:
    return start_server("single-user-http", TRANSPORT="streamable-http")


class Session:
    """A bare MCP session over HTTP: every answer is kept as it came (type, body)."""

    def __init__(self, http: httpx2.AsyncClient, url: str) -> None:
        self.http, self.url, self._id = http, url, 0

    async def open(self) -> httpx2.Response:
        answer = await self.post("initialize", INITIALIZE["params"])
        self.http.headers["Mcp-Session-Id"] = answer.headers["mcp-session-id"]
        self.http.headers["MCP-Protocol-Version"] = PROTOCOL
        done = await self.http.post(
            self.url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}
        )
        assert done.status_code == 202
        return answer

    async def call(self, name: str, arguments: dict[str, Any], **params: Any) -> httpx2.Response:
        return await self.post("tools/call", {"name": name, "arguments": arguments, **params})

    async def made(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """What a create tool made (answered as JSON)."""
        answer = await self.call(name, arguments)
        assert kind(answer) == "application/json"
        return dict(answer.json()["result"]["structuredContent"])

    async def post(self, method: str, params: dict[str, Any]) -> httpx2.Response:
        self._id += 1
        message = {"jsonrpc": "2.0", "id": self._id, "method": method, "params": params}
        answer = await self.http.post(self.url, json=message)
        assert answer.status_code == 200, answer.text
        return answer


def messages(answer: httpx2.Response) -> list[dict[str, Any]]:
    """The JSON-RPC messages of an answer, whichever form it took."""
    if answer.headers["content-type"].startswith("application/json"):
        return [answer.json()]
    assert answer.headers["content-type"].startswith("text/event-stream")
    return [
        json.loads(line[5:])
        for line in answer.text.splitlines()
        if line.startswith("data:") and line[5:].strip()
    ]


def kind(answer: httpx2.Response) -> str:
    return answer.headers["content-type"].split(";")[0]


@pytest.fixture
async def session(server: ServerProcess) -> Any:
    headers = {"Accept": "application/json, text/event-stream"}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        yield Session(http, server.url("/mcp"))


async def test_short_requests_get_json_runs_and_progress_get_a_stream(
    session: Session, model_provider: ScriptedProvider
) -> None:
    assert kind(await session.open()) == "application/json"
    listed = await session.post("tools/list", {})
    assert kind(listed) == "application/json"
    assert len(messages(listed)[0]["result"]["tools"]) == len(all_tools())

    assistant = await session.made("create_assistant", {"model": "m"})
    thread = await session.made("create_thread", {})

    # A run tool streams even without a progress token (its pings keep proxies patient) ...
    model_provider.script(Text("first answer"))
    arguments = {"thread_id": thread["id"], "assistant_id": assistant["id"]}
    ran = await session.call("create_run", arguments)
    assert kind(ran) == "text/event-stream"
    (result,) = messages(ran)
    assert result["result"]["structuredContent"]["run"]["status"] == "completed"

    # ... and any request with a progress token gets its notifications, then its answer. The
    # text comes in batches (one notification per 0.1 s at most), none of it lost.
    answer = " ".join(f"word{i}" for i in range(300))
    model_provider.script(Text(answer))
    ran = await session.call("create_run", arguments, _meta={"progressToken": "p1"})
    assert kind(ran) == "text/event-stream"
    *notes, result = messages(ran)
    assert {n["method"] for n in notes} == {"notifications/progress"}
    assert all(n["params"]["progressToken"] == "p1" for n in notes)
    streamed = "".join(n["params"]["message"] for n in notes if "word" in n["params"]["message"])
    assert streamed == answer
    assert len(notes) < 30, len(notes)
    progress = [n["params"]["progress"] for n in notes]
    assert progress == sorted(set(progress))
    assert result["id"] == json.loads(ran.request.content)["id"]
    assert result["result"]["structuredContent"]["run"]["status"] == "completed"


async def test_concurrent_requests_on_one_session_each_get_their_own_form(
    session: Session, model_provider: ScriptedProvider
) -> None:
    """A slow streamed run and 20 short calls at once, on one session: the short ones are
    answered as JSON while the run streams, and the run still gets every notification."""
    await session.open()
    assistant = await session.made("create_assistant", {"model": "m"})
    thread = await session.made("create_thread", {})
    words = 30
    model_provider.script(Text(" ".join(f"w{i}" for i in range(words)), chunk_delay=0.02))
    short: list[httpx2.Response] = []
    streamed: list[httpx2.Response] = []

    async def run() -> None:
        arguments = {"thread_id": thread["id"], "assistant_id": assistant["id"]}
        streamed.append(await session.call("create_run", arguments, _meta={"progressToken": 7}))

    async def get(n: int) -> None:
        await anyio.sleep(0.01 * n)
        short.append(await session.call("get_assistant", {"assistant_id": assistant["id"]}))

    async with anyio.create_task_group() as group:
        group.start_soon(run)
        for n in range(20):
            group.start_soon(get, n)

    assert [kind(a) for a in short] == ["application/json"] * 20
    for answer in short:
        (reply,) = messages(answer)
        assert json.loads(answer.request.content)["id"] == reply["id"]
        assert reply["result"]["structuredContent"]["id"] == assistant["id"]
    (answer,) = streamed
    *notes, result = messages(answer)
    assert json.loads(answer.request.content)["id"] == result["id"]
    assert result["result"]["structuredContent"]["run"]["status"] == "completed"
    text = "".join(n["params"].get("message", "") for n in notes)
    assert all(f"w{i}" in text for i in range(words)), text


async def test_the_sdk_client_in_a_session_runs_the_workflow_with_progress(
    server: ServerProcess, model_provider: ScriptedProvider
) -> None:
    async with streamable_client(server.url("/mcp"), mode="legacy") as client:
        assert client.session.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS
        await run_workflow(client, model_provider, "legacy-session")

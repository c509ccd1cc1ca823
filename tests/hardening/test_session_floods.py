"""Hardening round 2 (issue 11), free resources: 1,000 bare `initialize` POSTs, or 1,000 idle
`GET /sse` streams, no longer lock a real client out (it initializes and calls a tool within
5 s), and a session already in use survives the flood. See sessions.py for the rules."""

from __future__ import annotations

import asyncio
import secrets

import anyio
import httpx2
import pytest

from tests.mcp.fixtures import StartServer
from tests.mcp.servers import INITIALIZE, ServerProcess, sse_client_for, streamable_client
from tests.mcp.workflow import call

FLOOD = 1000
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def http_server(start_server: StartServer) -> ServerProcess:
    return start_server("r2-sessions-http", TRANSPORT="streamable-http")


@pytest.fixture(scope="module")
def sse_server(start_server: StartServer) -> ServerProcess:
    return start_server("r2-sessions-sse", TRANSPORT="sse")


async def _initialize_flood(url: str, keyed: bool) -> int:
    """FLOOD bare initialize POSTs (each opens a session nobody uses); returns how many were
    answered 200. `keyed`: each with a key of its own (keys are free)."""
    opened = 0
    limits = httpx2.Limits(max_connections=50)
    async with httpx2.AsyncClient(timeout=60, limits=limits) as http:

        async def one(n: int) -> None:
            nonlocal opened
            headers = dict(MCP_HEADERS)
            if keyed:
                headers["X-OpenAI-API-Key"] = f"sk-flood-{n}-{secrets.token_hex(4)}"
            answer = await http.post(url, json=INITIALIZE, headers=headers)
            opened += answer.status_code == 200

        async with anyio.create_task_group() as group:
            for n in range(FLOOD):
                group.start_soon(one, n)
    return opened


@pytest.mark.parametrize("keyed", [False, True], ids=["one-client", "a-key-each"])
async def test_a_real_client_gets_in_during_an_initialize_flood(
    http_server: ServerProcess, keyed: bool
) -> None:
    url = http_server.url("/mcp")
    async with streamable_client(url, mode="legacy") as early:
        await call(early, "list_assistants", {"limit": 1})  # in use before the flood
        assert await _initialize_flood(url, keyed) == FLOOD  # room is made, nobody refused
        with anyio.fail_after(120):  # gets in at all (a full server would hang it)
            async with streamable_client(url, mode="legacy") as late:
                made = await call(late, "create_assistant", {"model": "m", "name": "late"})
        assert made["name"] == "late"
        await call(early, "list_assistants", {"limit": 1})  # the used session survived


async def _open_idle_stream(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /sse HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    return reader, writer


async def test_a_real_client_gets_in_past_1000_idle_sse_streams(sse_server: ServerProcess) -> None:
    streams = []
    try:
        for _ in range(FLOOD):
            streams.append(await _open_idle_stream(sse_server.port))
        await asyncio.sleep(1.0)  # let the server take them all
        with anyio.fail_after(120):  # gets in at all (a full server would hang it)
            async with sse_client_for(sse_server.url("/sse")) as client:
                made = await call(client, "create_assistant", {"model": "m", "name": "sse"})
        assert made["name"] == "sse"
        # The flood's oldest streams were closed to make room (at most half of
        # HTTP_MAX_CONNECTIONS stay open).
        closed = 0
        for reader, _ in streams[:100]:
            try:
                while await asyncio.wait_for(reader.read(65536), 0.5):
                    pass
                closed += 1
            except (TimeoutError, ConnectionError):
                pass
        assert closed == 100
    finally:
        for _, writer in streams:
            writer.close()

"""A guard against the hot path slipping (issue 25): what one get_assistant tools/call costs the
server, over the stdio wire's JSON-RPC framing, against the same GET made straight through the
server's own openai client, in one process. Measured as Python function calls (sys.setprofile:
exact, whatever the load) and as CPU time (not wall time: waiting on a busy machine does not
count), with generous bounds; bench/bench_hotpath.py gives the times."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import anyio
import pytest

from openai_assistant_mcp.mcp.app import ToolServer
from openai_assistant_mcp.mcp.client import call_api_key
from openai_assistant_mcp.mcp.serve import serve_stdio_pipes
from openai_assistant_mcp.mcp.stdio import StdinLines, StdoutText
from openai_assistant_mcp.settings import Settings
from tests.mcp.fixtures import StartServer

KEY = "sk-call-cost"
CALLS = 20
# Our part of a call (framing, the SDK's dispatch, the middleware, shaping the result) may cost
# at most this many times the GET itself. Measured 2026-12-07: function calls 0.48x (remote),
# 0.27x (embedded); CPU ~0.3-0.6x. A new step per call shows in the count long before users
# feel it; CPU catches what runs in C or in threads (a worker-thread hop per read).
MAX_CALLS_OVERHEAD = 1.5
MAX_CPU_OVERHEAD = 3.0
CPU_CALLS, CPU_ROUNDS = 50, 3


async def counted(calls: int, once: Callable[[], Awaitable[Any]]) -> float:
    """Python function calls per `once()`, in this thread (the event loop's)."""
    for _ in range(5):  # warm: first-use imports and caches are not the steady state
        await once()
    count = 0

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
        for _ in range(calls):
            await once()
    finally:
        sys.setprofile(None)
    return count / calls


async def cpu_per_call(calls: int, once: Callable[[], Awaitable[Any]]) -> float:
    """CPU seconds of this process per `once()`."""
    started = time.process_time()
    for _ in range(calls):
        await once()
    return (time.process_time() - started) / calls


@asynccontextmanager
async def wire(
    tools: ToolServer,
) -> AsyncIterator[Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]]:
    """The server on a pipe pair as over stdio; yields a request function (one JSON line out,
    its answer line back)."""
    loop = asyncio.get_running_loop()
    to_server, from_client = os.pipe()
    to_client, from_server = os.pipe()

    async def reader_of(fd: int) -> asyncio.StreamReader:
        reader = asyncio.StreamReader(limit=2**24)
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", 0)
        )
        return reader

    async def writer_of(fd: int) -> asyncio.StreamWriter:
        transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, os.fdopen(fd, "wb", 0)
        )
        return asyncio.StreamWriter(transport, protocol, None, loop)

    server_in, server_out = await reader_of(to_server), await writer_of(from_server)
    client_in, client_out = await reader_of(to_client), await writer_of(from_client)
    ids = iter(range(1, 10**9))

    async def request(message: dict[str, Any]) -> dict[str, Any]:
        message = {"jsonrpc": "2.0", "id": next(ids), **message}
        client_out.write(json.dumps(message).encode() + b"\n")
        while True:
            answer = json.loads(await client_in.readline())
            if answer.get("id") == message["id"]:
                return answer

    async with anyio.create_task_group() as group:
        group.start_soon(tools.backend.run)
        group.start_soon(
            serve_stdio_pipes,
            tools.lowlevel_server(),
            StdinLines(server_in),
            StdoutText(server_out),
        )
        await request(
            {
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "cost", "version": "0"},
                },
            }
        )
        client_out.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        yield request
        client_out.close()
        tools.backend.close()
        group.cancel_scope.cancel()


async def overhead(settings: Settings) -> dict[str, float]:
    """The tool call's cost over the direct GET's, as function calls and as CPU time."""
    tools = ToolServer(settings)
    async with wire(tools) as request:
        api = await tools.backend.api()
        create = {"name": "create_assistant", "arguments": {"model": "gpt-test"}}
        made = await request({"method": "tools/call", "params": create})
        assistant_id = made["result"]["structuredContent"]["id"]
        params = {"name": "get_assistant", "arguments": {"assistant_id": assistant_id}}

        async def get() -> None:
            token = call_api_key.set(KEY)
            try:
                await api.beta.assistants.retrieve(assistant_id)
            finally:
                call_api_key.reset(token)

        async def tool_call() -> None:
            answer = await request({"method": "tools/call", "params": params})
            assert not answer["result"].get("isError"), answer

        direct, via_mcp = await counted(CALLS, get), await counted(CALLS, tool_call)
        cpu: dict[str, list[float]] = {"get": [], "tool": []}
        for _ in range(CPU_ROUNDS):  # interleaved: the machine's speed drifts
            cpu["get"].append(await cpu_per_call(CPU_CALLS, get))
            cpu["tool"].append(await cpu_per_call(CPU_CALLS, tool_call))
    return {
        "calls": (via_mcp - direct) / direct,
        "cpu": (min(cpu["tool"]) - min(cpu["get"])) / min(cpu["get"]),
        "get_calls": direct,
        "get_cpu_ms": min(cpu["get"]) * 1000,
    }


@pytest.mark.parametrize("mode", ["remote", "embedded"])
async def test_a_tool_call_costs_at_most_a_few_times_the_get_itself(
    mode: str, start_server: StartServer, tmp_path: Path
) -> None:
    if mode == "remote":
        url = start_server("api", "api").url("/v1")
        settings = Settings(assistants_api_url=url, provider_api_key=KEY, data_dir=tmp_path)
    else:
        settings = Settings(provider_api_key=KEY, data_dir=tmp_path)
    with anyio.fail_after(120):
        found = await overhead(settings)
    print(
        f"{mode}: a GET makes {found['get_calls']:.0f} function calls, {found['get_cpu_ms']:.2f} "
        f"ms CPU; a tools/call {found['calls']:.2f}x / {found['cpu']:.2f}x more"
    )
    assert found["calls"] <= MAX_CALLS_OVERHEAD, found
    assert found["cpu"] <= MAX_CPU_OVERHEAD, found

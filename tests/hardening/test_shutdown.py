"""Graceful shutdown: on SIGTERM a server stops accepting connections, lets the calls in flight
finish within SHUTDOWN_GRACE_SECONDS, and exits 0; a run still executing in the background is
left for the next start, which resumes it."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import openai
import pytest

from tests.hardening.conftest import stop_all, wait_for_port
from tests.mcp.servers import COMMAND, ServerProcess, free_port, server_env, streamable_client
from tests.mcp.workflow import call
from tests.support.scripted_provider import ScriptedProvider, Text


def _launch(name: str, root: Path, env: dict[str, str], args: list[str]) -> ServerProcess:
    log_path = root / f"{name}.log"
    port = free_port()
    env = {**env, "PORT": str(port)} if not args else env
    args = [*args, "--port", str(port)] if args else []
    with log_path.open("ab") as log:
        process = subprocess.Popen([COMMAND, *args], env=env, stdout=log, stderr=log)
    return ServerProcess(process, port, log_path)


@pytest.fixture
def mcp_env(tmp_path: Path, model_provider: ScriptedProvider) -> dict[str, str]:
    return server_env(
        tmp_path / "mcp-data",
        model_provider.base_url,
        TRANSPORT="streamable-http",
        HOST="127.0.0.1",
        SHUTDOWN_GRACE_SECONDS="10",
        RUN_POLL_INTERVAL="0.2",
    )


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    stop_all(started)


def _refuses_connections(port: int, within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            return True
        time.sleep(0.05)
    return False


async def _exit_code(server: ServerProcess, within: float) -> int:
    return await asyncio.to_thread(server.process.wait, within)


async def test_sigterm_drains_mcp_calls_and_leaves_runs_to_resume(
    tmp_path: Path,
    model_provider: ScriptedProvider,
    mcp_env: dict[str, str],
    servers: list[ServerProcess],
) -> None:
    # The background run streams for 20 s; the waited-for call's answer takes 2 s.
    model_provider.script(
        Text("slow " * 200, chunk_delay=0.1), Text("Answered during shutdown.", delay=2.0)
    )
    first = _launch("first", tmp_path, mcp_env, [])
    servers.append(first)
    wait_for_port(first)
    url = first.url("/mcp")
    async with streamable_client(url) as client:
        assistant = await call(client, "create_assistant", {"model": "m"})
        background = await call(
            client,
            "create_thread_and_run",
            {
                "assistant_id": assistant["id"],
                "wait": False,
                "thread": {"messages": [{"content": "a"}]},
            },
        )
        await model_provider.wait_for_requests(1)
        in_flight = asyncio.create_task(
            call(
                client,
                "create_thread_and_run",
                {"assistant_id": assistant["id"], "thread": {"messages": [{"content": "b"}]}},
            )
        )
        await model_provider.wait_for_requests(2)
        signalled = time.monotonic()
        first.process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(_refuses_connections, first.port)  # stops accepting
        finished = await in_flight  # ...while the call in flight finishes
    assert finished["run"]["status"] == "completed"
    assert finished["messages"][-1]["content"][0]["text"]["value"] == "Answered during shutdown."
    assert await _exit_code(first, within=15) == 0
    print(f"\nSIGTERM to exit with a 2 s call in flight: {time.monotonic() - signalled:.1f} s")

    # The next start resumes the background run from where the thread stood.
    model_provider.script(Text("Resumed after the restart."))
    second = _launch("second", tmp_path, mcp_env, [])
    servers.append(second)
    wait_for_port(second)
    run = background["run"]
    async with streamable_client(second.url("/mcp")) as client:
        for _ in range(300):  # polled: the run resumes in the new process's executor
            ids = {"thread_id": run["thread_id"], "run_id": run["id"]}
            got = (await call(client, "get_run", ids))["run"]
            if got["status"] in ("completed", "failed", "expired", "cancelled"):
                break
            await anyio.sleep(0.1)
        assert got["status"] == "completed", got
        page = await call(client, "list_messages", {"thread_id": run["thread_id"], "order": "asc"})
    texts = [m["content"][0]["text"]["value"] for m in page["data"]]
    assert texts == ["a", "Resumed after the restart."]  # nothing half-written left behind


async def test_sigterm_lets_a_streaming_rest_request_finish(
    tmp_path: Path, model_provider: ScriptedProvider, servers: list[ServerProcess]
) -> None:
    env = server_env(tmp_path / "api-data", model_provider.base_url, SHUTDOWN_GRACE_SECONDS="10")
    api = _launch("api", tmp_path, env, ["api"])
    servers.append(api)
    wait_for_port(api)
    model_provider.script(Text("one two three four five six", chunk_delay=0.3))
    async with openai.AsyncOpenAI(api_key="sk-sigterm", base_url=api.url("/v1")) as sdk:
        assistant = await sdk.beta.assistants.create(model="m")
        async with sdk.beta.threads.create_and_run_stream(
            assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "go"}]}
        ) as stream:
            async for event in stream:
                if event.event == "thread.message.delta":
                    api.process.send_signal(signal.SIGTERM)
                    break
            assert await asyncio.to_thread(_refuses_connections, api.port)
            await stream.until_done()
            run = await stream.get_final_run()
    assert run.status == "completed"
    assert await _exit_code(api, within=15) == 0

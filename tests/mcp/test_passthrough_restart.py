"""Multi-user mode across a restart (issue 21 item 8, an issue 11 finding kept fixed): an MCP
server in passthrough mode that also holds a key of its own (OPENAI_API_KEY) is killed with
-9 while a tenant's run streams; the server started again on the same data never finishes that
run with its own key. The run ends failed, saying why, and the model provider only ever saw
the tenant's key. (tests/runner/test_durability.py proves the same of the REST engine.)"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import anyio

from tests.mcp.servers import free_port, running_server, server_env, streamable_client
from tests.mcp.workflow import call
from tests.support.scripted_provider import ScriptedProvider, Text

SLOW = "slow " * 300  # 6 s at 0.02 s a word: long enough to be interrupted
SERVER_KEY = "sk-operator-own-" + secrets.token_hex(8)
TENANT_KEY = "sk-tenant-" + secrets.token_hex(8)


async def _until_streaming(provider: ScriptedProvider) -> None:
    requests = await provider.wait_for_requests(1, within=60)
    deadline = time.monotonic() + 60
    while requests[0].chunks_sent < 10:
        assert time.monotonic() < deadline, "the provider's answer never got going"
        await anyio.sleep(0.02)


async def test_a_tenants_run_resumed_after_a_restart_never_uses_the_servers_key(
    model_provider: ScriptedProvider, tmp_path: Path
) -> None:
    model_provider.script(Text(SLOW, chunk_delay=0.02))
    port = free_port()
    env = server_env(
        tmp_path / "data",
        model_provider.base_url,
        TRANSPORT="streamable-http",
        MCP_CREDENTIALS_PASSTHROUGH="true",
        OPENAI_API_KEY=SERVER_KEY,
        PORT=str(port),
        HOST="127.0.0.1",
        RUN_POLL_INTERVAL="0.2",
    )
    url = f"http://127.0.0.1:{port}/mcp"
    tenant = {"X-OpenAI-API-Key": TENANT_KEY}
    with running_server([], env, tmp_path / "first.log") as first:
        async with streamable_client(url, tenant) as client:
            assistant = await call(client, "create_assistant", {"model": "m"})
            started = await call(
                client,
                "create_thread_and_run",
                {
                    "assistant_id": assistant["id"],
                    "thread": {"messages": [{"role": "user", "content": "mine"}]},
                    "wait": False,
                },
            )
        await _until_streaming(model_provider)
        first.process.kill()  # kill -9: the tenant's key dies with the process
        first.process.wait()
    run = started["run"]

    with running_server([], env, tmp_path / "second.log") as second:
        async with streamable_client(url, tenant) as client:
            deadline = time.monotonic() + 120
            while True:
                seen = await call(
                    client, "get_run", {"thread_id": run["thread_id"], "run_id": run["id"]}
                )
                if seen["run"]["status"] not in ("queued", "in_progress"):
                    break
                assert time.monotonic() < deadline, seen["run"]["status"]
                await anyio.sleep(0.1)
        log = second.log()
    assert seen["run"]["status"] == "failed"
    error = seen["run"]["last_error"]
    assert error["code"] == "server_error" and "never stored" in error["message"]
    # Ended without a provider call: one with the server's key would have come after the kill.
    assert [r.api_key for r in model_provider.requests] == [TENANT_KEY]
    assert SERVER_KEY not in log and TENANT_KEY not in log

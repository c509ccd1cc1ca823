"""Limits: per-key concurrency with a bounded queue and a rate limit (a clear 429 naming the
limit, other keys unaffected), the body size cap, and slow or stalled clients, which neither
hold a request open forever nor exhaust the server's connections."""

from __future__ import annotations

import asyncio
import secrets
import socket
import time

import anyio
import httpx2
import openai
import pytest

from tests.hardening.conftest import ServerPool
from tests.mcp.servers import ServerProcess, streamable_client
from tests.mcp.workflow import call, call_error
from tests.support.scripted_provider import ScriptedProvider, Text


@pytest.fixture(scope="module")
def limits_http(pool: ServerPool) -> ServerProcess:
    """MCP: 1 call running and 1 waiting per key, 5 calls a minute, 64 KiB bodies, 1.5 s reads."""
    return pool.get("limits-http")


@pytest.fixture(scope="module")
def limits_api(pool: ServerPool) -> ServerProcess:
    """REST: 1 request at a time per key, none waiting, 5 a minute, 20 connections."""
    return pool.get("limits-api")


def _key() -> str:
    return "sk-limits-" + secrets.token_hex(8)


def _headers(key: str) -> dict[str, str]:
    return {"X-OpenAI-API-Key": key}


# --- MCP tool calls -------------------------------------------------------------------------------


async def test_mcp_concurrency_cap_queues_then_refuses_per_key(
    limits_http: ServerProcess, model_provider: ScriptedProvider
) -> None:
    url = limits_http.url("/mcp")
    key = _key()
    model_provider.script(Text("A slow answer.", delay=3.0))
    with anyio.fail_after(60):
        async with streamable_client(url, _headers(key)) as client:
            assistant = await call(client, "create_assistant", {"model": "m"})
            async with anyio.create_task_group() as group:
                running: dict[str, object] = {}

                async def slow_run() -> None:
                    running["run"] = await call(
                        client,
                        "create_thread_and_run",
                        {
                            "assistant_id": assistant["id"],
                            "thread": {"messages": [{"content": "hi"}]},
                        },
                    )

                async def queued() -> None:
                    running["queued"] = await call(client, "list_assistants", {"limit": 1})

                group.start_soon(slow_run)
                await model_provider.wait_for_requests(1)  # the run holds the key's one slot
                group.start_soon(queued)  # waits in the key's queue (1 place)
                await anyio.sleep(0.3)
                refused = await call_error(
                    client, "get_assistant", {"assistant_id": assistant["id"]}
                )
                assert "run" not in running  # refused at once, not once the 3 s run is over
                assert refused.startswith("429 Too Many Requests: Too many concurrent tool calls")
                assert "MAX_CONCURRENT_PER_KEY" in refused and "MAX_QUEUED_PER_KEY" in refused
                # Another key is not held up by this one.
                async with streamable_client(url, _headers(_key())) as other:
                    await call(other, "list_assistants", {"limit": 1})
            assert running["run"]["run"]["status"] == "completed"  # type: ignore[index]
            assert "queued" in running


async def test_mcp_rate_limit_per_key(limits_http: ServerProcess) -> None:
    url = limits_http.url("/mcp")
    async with streamable_client(url, _headers(_key())) as client:
        for _ in range(5):
            await call(client, "list_assistants", {"limit": 1})
        refused = await call_error(client, "list_assistants", {"limit": 1})
        assert refused.startswith(
            "429 Too Many Requests: Rate limit reached for this API key: at most 5 tool calls "
            "per minute (RATE_LIMIT_PER_MINUTE). Try again in "
        )
    async with streamable_client(url, _headers(_key())) as other:  # the session's limit, not all
        await call(other, "list_assistants", {"limit": 1})


async def test_mcp_body_cap(limits_http: ServerProcess) -> None:
    async with httpx2.AsyncClient() as http:
        refused = await http.post(
            limits_http.url("/mcp"),
            content=b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "pad": "'
            + b"x" * 70_000
            + b'"}',
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
    assert refused.status_code == 413
    assert "MAX_REQUEST_BODY_BYTES" in refused.json()["error"]["message"]
    async with streamable_client(limits_http.url("/mcp"), _headers(_key())) as client:
        await call(client, "list_assistants", {"limit": 1})  # the server is fine


# --- the REST API ---------------------------------------------------------------------------------


def _sdk(server: ServerProcess, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=key, base_url=server.url("/v1"), max_retries=0)


async def test_rest_concurrency_and_rate_limits(
    limits_api: ServerProcess, model_provider: ScriptedProvider
) -> None:
    alice, bob, carol = _sdk(limits_api, _key()), _sdk(limits_api, _key()), _sdk(limits_api, _key())
    model_provider.script(Text("A slow answer.", delay=1.5))
    assistant = await alice.beta.assistants.create(model="m")

    async def slow_stream() -> str:
        async with alice.beta.threads.create_and_run_stream(
            assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "hi"}]}
        ) as stream:
            await stream.until_done()
            return (await stream.get_final_run()).status

    run = asyncio.create_task(slow_stream())
    await model_provider.wait_for_requests(1)
    with pytest.raises(openai.RateLimitError) as refused:
        await alice.beta.assistants.list()
    assert refused.value.code == "concurrency_limit_exceeded"
    assert "MAX_CONCURRENT_PER_KEY" in refused.value.message
    assert refused.value.response.headers["retry-after"] == "1"
    await bob.beta.assistants.list()  # another key
    assert await run == "completed"

    for _ in range(5):
        await carol.beta.assistants.list()
    with pytest.raises(openai.RateLimitError) as limited:
        await carol.beta.assistants.list()
    assert limited.value.code == "rate_limit_exceeded"
    assert "at most 5 requests per minute (RATE_LIMIT_PER_MINUTE)" in limited.value.message
    assert int(limited.value.response.headers["retry-after"]) >= 1
    for client in (alice, bob, carol):
        await client.close()


async def test_rest_body_cap(limits_api: ServerProcess) -> None:
    async with _sdk(limits_api, _key()) as client:
        with pytest.raises(openai.APIStatusError) as refused:
            await client.beta.assistants.create(model="m", instructions="x" * 70_000)
        assert refused.value.status_code == 413
        assert refused.value.code == "request_too_large"
        assert "MAX_REQUEST_BODY_BYTES" in refused.value.message
        assert (await client.beta.assistants.list()).data == []  # nothing half-written


# --- slow and stalled clients ---------------------------------------------------------------------


def _connect(server: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def _closed_within(sock: socket.socket, seconds: float) -> bytes:
    """What the server sent before closing the connection (fails if still open)."""
    sock.settimeout(seconds)
    received = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return received
        received += chunk


@pytest.mark.parametrize("server_name", ["limits-http", "limits-api"])
def test_a_slow_body_is_refused(pool: ServerPool, server_name: str) -> None:
    server = pool.get(server_name)
    path = "/mcp" if server_name.endswith("http") else "/v1/assistants"
    with _connect(server) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
            'Content-Length: 100\r\n\r\n{"a":'.encode()
        )
        started = time.monotonic()
        answer = _closed_within(sock, 10)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"HTTP_READ_TIMEOUT" in answer
    assert time.monotonic() - started > 1.0  # after HTTP_READ_TIMEOUT (1.5 s), not at once


def test_stalled_connections_are_closed_and_cannot_exhaust_the_server(
    limits_api: ServerProcess,
) -> None:
    """HTTP_MAX_CONNECTIONS is 20: 25 clients that connect and send half a header fill it
    (new requests get 503), until HTTP_READ_TIMEOUT (1.5 s) closes them."""
    stalled = [_connect(limits_api) for _ in range(25)]
    try:
        for sock in stalled:
            sock.sendall(b"GET /v1/assistants HTTP/1.1\r\nHo")
        time.sleep(0.2)
        busy = httpx2.get(limits_api.url("/v1/assistants"), timeout=10)
        assert busy.status_code == 503
        for sock in stalled:
            assert _closed_within(sock, 10) == b""  # closed without a word
        assert httpx2.get(limits_api.url("/v1/assistants"), timeout=10).status_code == 200
    finally:
        for sock in stalled:
            sock.close()

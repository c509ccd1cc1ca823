"""Faults from the model provider and from a remote Assistants backend: time-outs, 429 with
Retry-After, 5xx, connection refused, truncated or malformed JSON, a stream that stops
mid-way. Each ends as a `failed` run with a reason or as a one-line tool error, and the MCP
session goes on working afterwards."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest
from mcp import Client

from tests.hardening.conftest import ServerPool
from tests.hardening.fault_proxy import Cut, FaultProxy, Garbage, Hang, Status
from tests.mcp.servers import streamable_client
from tests.mcp.workflow import call, call_error
from tests.support.scripted_provider import Cut as CutStream
from tests.support.scripted_provider import Error, Malformed, Reply, ScriptedProvider, Text
from tests.support.scripted_provider import Hang as Silent


async def _run(client: Client, assistant_id: str) -> Any:
    return await client.call_tool(
        "create_thread_and_run",
        {"assistant_id": assistant_id, "thread": {"messages": [{"content": "hello"}]}},
    )


async def _still_works(client: Client) -> None:
    await call(client, "list_assistants", {"limit": 1})


# --- the model provider ---------------------------------------------------------------------------

PROVIDER_FAULTS = [
    # (scripted replies, reply forever, expected last_error code, start of its message)
    pytest.param(
        [],
        Error(429, retry_after=0.2),
        "rate_limit_exceeded",
        "The model provider is rate limiting requests (HTTP 429, still after 1 retries)",
        id="429 forever",
    ),
    pytest.param(
        [],
        Error(503, "overloaded"),
        "server_error",
        "The model provider failed (HTTP 503, still after 1 retries): overloaded",
        id="5xx forever",
    ),
    pytest.param(
        [Silent(), Silent()],
        None,
        "server_error",
        "The model provider did not answer in time.",
        id="time-out",
    ),
    pytest.param(
        [Malformed()],
        None,
        "server_error",
        "The model provider sent a stream chunk that is not JSON.",
        id="truncated JSON",
    ),
    pytest.param(
        [Malformed("not json at all")],
        None,
        "server_error",
        "The model provider sent a stream chunk that is not JSON.",
        id="malformed JSON",
    ),
    pytest.param(
        [CutStream()],
        None,
        "server_error",
        "The model provider's stream broke off",
        id="connection dropped mid-stream",
    ),
    pytest.param(
        [CutStream(clean=True)],
        None,
        "server_error",
        "The model provider's stream ended before the answer was complete",
        id="stream ended early",
    ),
]


@pytest.mark.parametrize(("script", "forever", "code", "message"), PROVIDER_FAULTS)
async def test_provider_fault_fails_the_run_with_a_reason(
    pool: ServerPool,
    model_provider: ScriptedProvider,
    script: list[Reply],
    forever: Reply | None,
    code: str,
    message: str,
) -> None:
    model_provider.script(*script).forever(forever)
    # A bound for a hang, not a speed check: discovery alone took >30 s on a loaded 2-core box.
    with anyio.fail_after(180):
        async with streamable_client(pool.get("open-http").url("/mcp")) as client:
            assistant = await call(client, "create_assistant", {"model": "m"})
            result = await _run(client, assistant["id"])
            text = result.content[0].text
            assert not result.is_error, text  # a failed run is a normal result (issue 9)
            assert "\n" not in text
            run = result.structured_content["run"]
            assert run["status"] == "failed"
            assert run["last_error"]["code"] == code
            assert run["last_error"]["message"].startswith(message), run["last_error"]
            assert f": failed ({code}: {message}" in text
            model_provider.forever(None)
            await _still_works(client)
            # The next run on the same session goes through.
            model_provider.script(Text("Back to normal."))
            again = await call(client, "create_thread_and_run", {"assistant_id": assistant["id"]})
            assert again["run"]["status"] == "completed"


async def test_provider_429_with_retry_after_is_honoured(
    pool: ServerPool, model_provider: ScriptedProvider
) -> None:
    model_provider.script(Error(429, retry_after=1.0), Text("Made it after waiting."))
    async with streamable_client(pool.get("open-http").url("/mcp")) as client:
        assistant = await call(client, "create_assistant", {"model": "m"})
        done = await call(
            client,
            "create_thread_and_run",
            {"assistant_id": assistant["id"], "thread": {"messages": [{"content": "hi"}]}},
        )
    assert done["run"]["status"] == "completed"
    assert done["messages"][-1]["content"][0]["text"]["value"] == "Made it after waiting."
    first, second = model_provider.requests
    assert second.received_at - first.received_at >= 0.9  # waited as told


async def test_provider_connection_refused(pool: ServerPool) -> None:
    async with streamable_client(pool.get("no-provider-http").url("/mcp")) as client:
        assistant = await call(client, "create_assistant", {"model": "m"})
        result = await _run(client, assistant["id"])
        assert not result.is_error  # a failed run is a normal result (issue 9)
        error = result.structured_content["run"]["last_error"]
        assert error["code"] == "server_error"
        assert error["message"].startswith("Could not connect to the model provider at http://")
        await _still_works(client)


# --- a remote Assistants backend ------------------------------------------------------------------


@pytest.fixture
def proxy(pool: ServerPool) -> FaultProxy:
    pool.get("remote-faults-http")
    pool.fault_proxy.reset()
    return pool.fault_proxy


async def test_remote_429_with_retry_after_is_retried(pool: ServerPool, proxy: FaultProxy) -> None:
    proxy.script("GET /assistants", Status(429, "slow down", retry_after=1.0))
    async with streamable_client(pool.get("remote-faults-http").url("/mcp")) as client:
        started = time.monotonic()
        await call(client, "list_assistants", {"limit": 1})
    assert time.monotonic() - started >= 0.9
    assert proxy.seen.count("GET /assistants") == 2


MALFORMED = "The Assistants API sent a malformed response (not valid JSON)."
REMOTE_FAULTS = [
    # (fault, on every request, the tool error)
    pytest.param(
        Status(429, "slow down", retry_after=0.1),
        True,
        "Assistants API error 429: slow down",
        id="429 forever",
    ),
    pytest.param(
        Status(502, "bad gateway"), True, "Assistants API error 502: bad gateway", id="5xx"
    ),
    pytest.param(Hang(), True, "The Assistants API did not answer in time.", id="time-out"),
    pytest.param(
        Garbage('{"object": "list", "data": [{"id": "asst_'), False, MALFORMED, id="truncated JSON"
    ),
    pytest.param(Garbage("<html>oops</html>"), False, MALFORMED, id="malformed JSON"),
]


@pytest.mark.parametrize(("fault", "forever", "expected"), REMOTE_FAULTS)
async def test_remote_fault_is_a_clear_tool_error(
    pool: ServerPool, proxy: FaultProxy, fault: Any, forever: bool, expected: str
) -> None:
    if forever:
        proxy.forever("GET /assistants", fault)
    else:
        proxy.script("GET /assistants", fault)
    # A bound for a hang, not a speed check: discovery alone took >30 s on a loaded 2-core box.
    with anyio.fail_after(180):
        async with streamable_client(pool.get("remote-faults-http").url("/mcp")) as client:
            assert await call_error(client, "list_assistants", {"limit": 1}) == expected
            proxy.reset()
            await _still_works(client)


async def test_a_spent_wait_does_not_wait_again_on_reading_the_run(
    pool: ServerPool, proxy: FaultProxy, model_provider: ScriptedProvider
) -> None:
    """After a run tool's `timeout`, reading the run's state is bounded (run_results'
    FINAL_READ_TIMEOUT, not ASSISTANTS_API_TIMEOUT) and not retried: the caller asked for an
    answer by then."""
    model_provider.script(Text("slow " * 20, chunk_delay=0.5))
    async with streamable_client(pool.get("remote-faults-http").url("/mcp")) as client:
        assistant = await call(client, "create_assistant", {"model": "m"})
        thread = await call(client, "create_thread", {})
        proxy.script("GET /threads/", Hang())
        arguments = {"thread_id": thread["id"], "assistant_id": assistant["id"], "timeout": 1}
        # The hung read is given up (a Hang never answers; the deadline only ends a wait that
        # would otherwise last), not retried: a retry would pass the proxy and succeed.
        with anyio.fail_after(60):
            error = await call_error(client, "create_run", arguments)
        assert error == "The Assistants API did not answer in time."
        await _still_works(client)
        runs = await call(client, "list_runs", {"thread_id": thread["id"]})
        await call(
            client, "cancel_run", {"thread_id": thread["id"], "run_id": runs["data"][0]["id"]}
        )


async def test_remote_stream_cut_mid_way(
    pool: ServerPool, proxy: FaultProxy, model_provider: ScriptedProvider
) -> None:
    model_provider.script(Text("word " * 100, chunk_delay=0.01))
    async with streamable_client(pool.get("remote-faults-http").url("/mcp")) as client:
        assistant = await call(client, "create_assistant", {"model": "m"})
        thread = await call(client, "create_thread", {"messages": [{"content": "hi"}]})
        proxy.script("POST /threads/", Cut(after_bytes=1500))
        error = await call_error(
            client, "create_run", {"thread_id": thread["id"], "assistant_id": assistant["id"]}
        )
        assert error.startswith("The connection to the Assistants API broke off"), error
        await _still_works(client)
        # The run itself went on in the backend, and can be read there.
        runs = await call(client, "list_runs", {"thread_id": thread["id"]})
        assert len(runs["data"]) == 1


async def test_remote_connection_refused(pool: ServerPool) -> None:
    async with streamable_client(pool.get("remote-refused-http").url("/mcp")) as client:
        error = await call_error(client, "list_assistants", {})
        assert error == "Could not reach the Assistants API (Connection refused)."
        assert await call_error(client, "get_thread", {"thread_id": "thread_x"}) == error

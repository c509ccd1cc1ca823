"""Credentials passthrough over streamable HTTP: each request's key is used for that request
only, a call without one is refused, keys never show up in results or logs, and under load
every caller sees only their own assistants and threads."""

from __future__ import annotations

import asyncio
import secrets

import anyio
import pytest

from tests.mcp.fixtures import StartServer
from tests.mcp.servers import ServerProcess, streamable_client
from tests.mcp.workflow import call, call_error

# Keys used against the passthrough server; the last test checks none reached its log.
KEYS = [f"sk-pass-{i}-{secrets.token_hex(12)}" for i in range(10)]
SERVER_KEY = "sk-server-own-" + secrets.token_hex(8)


@pytest.fixture(scope="module")
def passthrough_server(start_server: StartServer) -> ServerProcess:
    return start_server(
        "passthrough-http",
        TRANSPORT="streamable-http",
        MCP_CREDENTIALS_PASSTHROUGH="true",
        OPENAI_API_KEY=SERVER_KEY,  # must never be used for a call without a key
        LOG_LEVEL="DEBUG",
    )


async def test_a_call_without_a_key_is_refused(passthrough_server: ServerProcess) -> None:
    async with streamable_client(passthrough_server.url("/mcp")) as client:
        error = await call_error(client, "list_assistants", {})
    assert error.startswith("No API key: send it in the X-OpenAI-API-Key header")


async def test_header_and_bearer_keys_name_the_same_caller(
    passthrough_server: ServerProcess,
) -> None:
    url = passthrough_server.url("/mcp")
    async with streamable_client(url, {"X-OpenAI-API-Key": KEYS[0]}) as client:
        made = await call(client, "create_assistant", {"model": "m", "name": "by-header"})
    async with streamable_client(url, {"Authorization": f"Bearer {KEYS[0]}"}) as client:
        found = await call(client, "get_assistant", {"assistant_id": made["id"]})
    assert found["name"] == "by-header"
    async with streamable_client(url, {"X-OpenAI-API-Key": KEYS[1]}) as client:
        error = await call_error(client, "get_assistant", {"assistant_id": made["id"]})
    assert error == f"Assistants API error 404: No assistant found with id '{made['id']}'."


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_isolation_of_100_concurrent_sessions_with_10_keys(
    passthrough_server: ServerProcess, mode: str
) -> None:
    url = passthrough_server.url("/mcp")
    tag = secrets.token_hex(4)
    keys = [f"sk-iso-{tag}-{i}-{secrets.token_hex(8)}" for i in range(10)]
    KEYS.extend(keys)
    created = asyncio.Event()
    made: list[tuple[int, str, str]] = []  # (key index, assistant id, thread id)
    seen_by: dict[int, set[str]] = {}

    async def session(n: int) -> None:
        mine = n % 10
        async with streamable_client(url, {"X-OpenAI-API-Key": keys[mine]}, mode) as client:
            assistant = await call(
                client,
                "create_assistant",
                {"model": "m", "name": f"s{n}", "metadata": {"key": str(mine)}},
            )
            thread = await call(client, "create_thread", {"metadata": {"key": str(mine)}})
            made.append((mine, assistant["id"], thread["id"]))
            if len(made) == 100:
                created.set()
            await created.wait()
            page = await call(client, "list_assistants", {"limit": 100})
            assert {a["metadata"]["key"] for a in page["data"]} == {str(mine)}
            seen_by.setdefault(mine, set()).update(a["id"] for a in page["data"])
            # Another key's thread answers exactly as a missing one.
            other = next(m for m in made if m[0] != mine)
            error = await call_error(client, "get_thread", {"thread_id": other[2]})
            assert error == f"Assistants API error 404: No thread found with id '{other[2]}'."
            own = next(m for m in made if m[0] == mine)
            assert (await call(client, "get_thread", {"thread_id": own[2]}))["id"] == own[2]

    with anyio.fail_after(120):
        async with anyio.create_task_group() as group:
            for n in range(100):
                group.start_soon(session, n)
    for mine in range(10):
        expected = {assistant for key, assistant, _ in made if key == mine}
        assert seen_by[mine] == expected and len(expected) == 10


def test_no_key_in_the_server_log(passthrough_server: ServerProcess) -> None:
    log = passthrough_server.log()
    assert "DEBUG" in log  # the log ran at its most talkative
    for key in [*KEYS, SERVER_KEY]:
        assert key not in log

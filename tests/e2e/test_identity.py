"""One key, one set of data, through every door (stdio with OPENAI_API_KEY, the REST API's
bearer, the passthrough header), and the `tenants` admin commands that list tenants and move
a tenant's data to a new key, on SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import openai
import pytest

from tests.mcp.servers import (
    COMMAND,
    free_port,
    running_server,
    server_env,
    stdio_client,
    streamable_client,
)
from tests.mcp.workflow import call

KEY = "sk-identity-first-9c1e"
NEW_KEY = "sk-identity-rotated-4b7d"
OTHER_KEY = "sk-identity-stranger-0a2f"


@dataclass
class Store:
    """One store (data directory, and a PostgreSQL database when asked) shared by servers."""

    env: dict[str, str]
    root: Path

    def with_key(self, key: str | None, **more: str) -> dict[str, str]:
        env = {**self.env, **more}
        if key:
            env["OPENAI_API_KEY"] = key
        return env

    def admin(self, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
        """`openai-assistant-mcp tenants ...` on this store."""
        return subprocess.run(
            [COMMAND, "tenants", *args],
            env={**self.env, **env},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    env = server_env(tmp_path / "data")
    if request.param == "postgres":
        server = request.getfixturevalue("postgres_server")
        env["DATABASE_URL"] = await server.new_database_url("identity")
    return Store(env, tmp_path)


async def _stdio(store: Store, key: str | None, *calls: tuple[str, dict[str, Any]]) -> list[Any]:
    """Tool calls, in one session, through a stdio server started with OPENAI_API_KEY=key (or
    none); their results."""
    with (store.root / "stdio.log").open("a") as errlog:
        async with stdio_client(store.with_key(key), errlog=errlog) as client:
            return [await client.call_tool(tool, args) for tool, args in calls]


async def _make_data(store: Store, key: str | None, name: str) -> dict[str, str]:
    with (store.root / "stdio.log").open("a") as errlog:
        async with stdio_client(store.with_key(key), errlog=errlog) as client:
            assistant = await call(client, "create_assistant", {"model": "m", "name": name})
            thread = await call(client, "create_thread", {"messages": [{"content": name}]})
            store_ = await call(client, "create_vector_store", {"name": name})
    return {"assistant_id": assistant["id"], "thread_id": thread["id"], "store_id": store_["id"]}


# Bounds for a hang, not speed checks: each server start took ~30 s in a one-core run of the
# whole suite at load 40 (the tenant test starts seven, and runs six admin commands).
async def test_one_key_sees_one_set_of_data_through_every_door(store: Store) -> None:
    with anyio.fail_after(540):
        made = await _make_data(store, KEY, "Made over stdio")

        port = str(free_port())
        with running_server(["api", "--port", port], store.env, store.root / "api.log") as api:
            async with openai.AsyncOpenAI(api_key=KEY, base_url=api.url("/v1")) as rest:
                found = await rest.beta.assistants.retrieve(made["assistant_id"])
                assert found.name == "Made over stdio"
                listed = await rest.beta.threads.messages.list(made["thread_id"])
                assert listed.data[0].content[0].text.value == "Made over stdio"  # type: ignore[union-attr]
            async with openai.AsyncOpenAI(api_key=OTHER_KEY, base_url=api.url("/v1")) as other:
                with pytest.raises(openai.NotFoundError):
                    await other.beta.assistants.retrieve(made["assistant_id"])

        passthrough = store.with_key(
            None,
            TRANSPORT="streamable-http",
            HOST="127.0.0.1",
            PORT=str(free_port()),
            MCP_CREDENTIALS_PASSTHROUGH="true",
        )
        with running_server([], passthrough, store.root / "http.log") as http:
            async with streamable_client(http.url("/mcp"), {"X-OpenAI-API-Key": KEY}) as client:
                seen = await call(client, "get_assistant", {"assistant_id": made["assistant_id"]})
                assert seen["name"] == "Made over stdio"
            async with streamable_client(http.url("/mcp"), {"X-OpenAI-API-Key": OTHER_KEY}) as c:
                denied = await c.call_tool("get_assistant", {"assistant_id": made["assistant_id"]})
                assert denied.is_error


async def test_tenants_list_and_move_to_a_new_key(store: Store) -> None:
    with anyio.fail_after(540):
        mine = await _make_data(store, KEY, "Rotated")
        legacy = await _make_data(store, None, "Stored without a key")

        listed = store.admin("list", OPENAI_API_KEY=KEY)
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert len(lines) == 2, listed.stdout
        assert any(
            line.startswith("default (no key)")
            and "1 assistant, 1 thread, 1 vector store, 1 message" in line
            for line in lines
        ), listed.stdout
        marked = [line for line in lines if line.endswith("(OPENAI_API_KEY)")]
        assert len(marked) == 1 and "1 assistant, 1 thread, 1 vector store, 1 message" in marked[0]
        assert KEY not in listed.stdout

        # A wrong old key changes nothing, and says so.
        wrong = store.admin("move", OLD_OPENAI_API_KEY=OTHER_KEY, NEW_OPENAI_API_KEY=NEW_KEY)
        assert wrong.returncode == 1
        assert "owns no data; nothing was changed" in wrong.stderr
        assert store.admin("list", OPENAI_API_KEY=KEY).stdout == listed.stdout

        # Keys on standard input: old, then new.
        moved = store.admin("move", "--stdin", stdin=f"{KEY}\n{NEW_KEY}\n")
        assert moved.returncode == 0, moved.stderr
        assert moved.stdout.startswith(
            "Moved 1 assistant, 1 thread, 1 vector store, 1 message from "
        )
        assert KEY not in moved.stdout + moved.stderr and NEW_KEY not in moved.stdout

        [gone] = await _stdio(store, KEY, ("get_assistant", {"assistant_id": mine["assistant_id"]}))
        assert gone.is_error
        got, vectors, page = await _stdio(
            store,
            NEW_KEY,
            ("get_assistant", {"assistant_id": mine["assistant_id"]}),
            ("get_vector_store", {"vector_store_id": mine["store_id"]}),
            ("list_messages", {"thread_id": mine["thread_id"]}),
        )
        assert not got.is_error and got.structured_content["name"] == "Rotated"
        assert not vectors.is_error and vectors.structured_content["name"] == "Rotated"
        assert page.structured_content["data"][0]["content"][0]["text"]["value"] == "Rotated"

        # Keyless data: the single user with a key is told at start, and can move it.
        log = (store.root / "stdio.log").read_text()
        assert "tenants move --from-keyless" in log
        keyless = store.admin("move", "--from-keyless", NEW_OPENAI_API_KEY=NEW_KEY)
        assert keyless.returncode == 0, keyless.stderr
        assert "from default (no key) to " in keyless.stdout
        legacy_id = legacy["assistant_id"]
        [got] = await _stdio(store, NEW_KEY, ("get_assistant", {"assistant_id": legacy_id}))
        assert got.structured_content["name"] == "Stored without a key"
        after = store.admin("list")
        assert after.stdout.count(
            "\n"
        ) == 1 and "2 assistants, 2 threads, 2 vector stores, 2 messages" in (after.stdout)

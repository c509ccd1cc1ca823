"""Every one of the 28 tools, called through a real MCP client over streamable HTTP, including
the run tools' other endings: `wait: false`, a wait that runs out, cancel."""

from __future__ import annotations

import base64

import anyio
import pytest
from mcp import Client

from tests.mcp.fixtures import StartServer
from tests.mcp.servers import ServerProcess, streamable_client
from tests.mcp.workflow import call, call_error
from tests.support.scripted_provider import ScriptedProvider, Text

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(32))


@pytest.fixture(scope="module")
def server(start_server: StartServer) -> ServerProcess:
    return start_server("single-user-http", TRANSPORT="streamable-http")


async def _session(server: ServerProcess) -> Client:
    return streamable_client(server.url("/mcp"))


async def _wait_for_status(client: Client, ids: dict[str, str], status: str) -> None:
    """Polls get_run (as a caller of wait: false would) until the run reaches `status`."""
    seen = None
    for _ in range(200):
        seen = (await call(client, "get_run", ids))["run"]["status"]
        if seen == status:
            return
        await anyio.sleep(0.1)
    raise AssertionError(f"run still {seen}, not {status}")


async def test_assistants_tools(server: ServerProcess) -> None:
    async with await _session(server) as client:
        first = await call(client, "create_assistant", {"model": "m1", "name": "first"})
        second = await call(client, "create_assistant", {"model": "m1", "name": "second"})
        page = await call(client, "list_assistants", {"limit": 1})
        assert [a["id"] for a in page["data"]] == [second["id"]] and page["has_more"]
        older = await call(client, "list_assistants", {"limit": 1, "after": second["id"]})
        assert [a["id"] for a in older["data"]] == [first["id"]]
        changed = await call(
            client,
            "modify_assistant",
            {"assistant_id": first["id"], "instructions": "Be brief.", "metadata": {"v": "2"}},
        )
        assert changed["instructions"] == "Be brief." and changed["name"] == "first"
        assert (await call(client, "get_assistant", {"assistant_id": first["id"]}))["metadata"] == {
            "v": "2"
        }
        gone = await call(client, "delete_assistant", {"assistant_id": first["id"]})
        assert gone == {"id": first["id"], "object": "assistant.deleted", "deleted": True}
        await call_error(client, "get_assistant", {"assistant_id": first["id"]})


async def test_threads_and_messages_tools(server: ServerProcess) -> None:
    async with await _session(server) as client:
        thread = await call(
            client,
            "create_thread",
            {"messages": [{"content": "first"}, {"role": "assistant", "content": "second"}]},
        )
        assert (await call(client, "get_thread", {"thread_id": thread["id"]}))["id"] == thread["id"]
        changed = await call(
            client, "modify_thread", {"thread_id": thread["id"], "metadata": {"topic": "x"}}
        )
        assert changed["metadata"] == {"topic": "x"}
        added = await call(
            client,
            "create_message",
            {"thread_id": thread["id"], "content": [{"type": "text", "text": "third"}]},
        )
        ids = {"thread_id": thread["id"], "message_id": added["id"]}
        found = await call(client, "get_message", ids)
        assert found["content"][0]["text"]["value"] == "third"
        modified = await call(client, "modify_message", {**ids, "metadata": {"seen": "yes"}})
        assert modified["metadata"] == {"seen": "yes"}
        listed = await call(client, "list_messages", {"thread_id": thread["id"], "order": "asc"})
        texts = [m["content"][0]["text"]["value"] for m in listed["data"]]
        assert texts == ["first", "second", "third"]
        assert (await call(client, "delete_message", ids))["deleted"] is True
        assert (await call(client, "delete_thread", {"thread_id": thread["id"]}))["deleted"]
        await call_error(client, "get_thread", {"thread_id": thread["id"]})


async def test_run_tools(server: ServerProcess, model_provider: ScriptedProvider) -> None:
    async with await _session(server) as client:
        assistant = await call(client, "create_assistant", {"model": "m"})
        done = await call(
            client,
            "create_thread_and_run",
            {
                "assistant_id": assistant["id"],
                "thread": {"messages": [{"content": "ping"}]},
                "metadata": {"n": "1"},
            },
        )
        run = done["run"]
        assert run["status"] == "completed"
        assert done["messages"][-1]["content"][0]["text"]["value"] == "You said: ping"
        thread_id = run["thread_id"]
        ids = {"thread_id": thread_id, "run_id": run["id"]}

        runs = await call(client, "list_runs", {"thread_id": thread_id})
        assert [r["id"] for r in runs["data"]] == [run["id"]]
        again = await call(client, "get_run", ids)
        assert again["run"]["status"] == "completed" and again["messages"]
        assert (await call(client, "modify_run", {**ids, "metadata": {"n": "2"}}))["metadata"] == {
            "n": "2"
        }
        steps = await call(client, "list_run_steps", ids)
        assert [s["type"] for s in steps["data"]] == ["message_creation"]
        step = await call(client, "get_run_step", {**ids, "step_id": steps["data"][0]["id"]})
        assert step["run_id"] == run["id"]
        only_run = await call(
            client, "list_messages", {"thread_id": thread_id, "run_id": run["id"]}
        )
        assert [m["role"] for m in only_run["data"]] == ["assistant"]


async def test_wait_false_returns_at_once(
    server: ServerProcess, model_provider: ScriptedProvider
) -> None:
    async with await _session(server) as client:
        assistant = await call(client, "create_assistant", {"model": "m"})
        thread = await call(client, "create_thread", {"messages": [{"content": "hello"}]})
        started = await call(
            client,
            "create_run",
            {"thread_id": thread["id"], "assistant_id": assistant["id"], "wait": False},
        )
        assert started["run"]["status"] in ("queued", "in_progress", "completed")
        ids = {"thread_id": thread["id"], "run_id": started["run"]["id"]}
        await _wait_for_status(client, ids, "completed")


async def test_a_wait_that_runs_out_then_cancel(
    server: ServerProcess, model_provider: ScriptedProvider
) -> None:
    model_provider.script(Text("one two three four five six seven eight", chunk_delay=0.5))
    async with await _session(server) as client:
        assistant = await call(client, "create_assistant", {"model": "m"})
        thread = await call(client, "create_thread", {"messages": [{"content": "go slowly"}]})
        result = await client.call_tool(
            "create_run",
            {"thread_id": thread["id"], "assistant_id": assistant["id"], "timeout": 1},
        )
        text = result.content[0].text
        assert not result.is_error, text
        run = result.structured_content["run"]
        assert run["status"] in ("queued", "in_progress")
        assert "after 1 s; check again with get_run" in text
        ids = {"thread_id": thread["id"], "run_id": run["id"]}
        cancelled = await call(client, "cancel_run", ids)
        assert cancelled["status"] in ("cancelling", "cancelled")
        await _wait_for_status(client, ids, "cancelled")


async def test_the_answer_streams_as_progress_while_the_run_runs(
    server: ServerProcess, model_provider: ScriptedProvider
) -> None:
    """Text reaches the client as the model produces it, not all at once at the end."""
    words = "one two three four five six"
    model_provider.script(Text(words, chunk_delay=0.3))
    heard: list[tuple[float, str]] = []

    async def on_progress(amount: float, total: float | None, message: str | None) -> None:
        heard.append((anyio.current_time(), message or ""))

    async with await _session(server) as client:
        assistant = await call(client, "create_assistant", {"model": "m"})
        done = await call(
            client,
            "create_thread_and_run",
            {"assistant_id": assistant["id"], "thread": {"messages": [{"content": "count"}]}},
            progress_callback=on_progress,
        )
        finished = anyio.current_time()
    assert done["messages"][-1]["content"][0]["text"]["value"] == words
    text_times = [at for at, message in heard if message.strip() in words.split()]
    assert len(text_times) >= 5, heard
    # The first word arrived about five chunk delays before the run finished.
    assert finished - text_times[0] > 1.0, heard


async def test_files_tools(server: ServerProcess) -> None:
    async with await _session(server) as client:
        text = await call(
            client, "upload_file", {"content": "line one\nline two\n", "filename": "notes.txt"}
        )
        pixel = await call(
            client,
            "upload_file",
            {
                "content": base64.b64encode(PNG).decode(),
                "encoding": "base64",
                "filename": "pixel.png",
                "purpose": "vision",
            },
        )
        assert (text["bytes"], pixel["bytes"]) == (18, len(PNG))
        page = await call(client, "list_files", {"limit": 1})
        assert [f["id"] for f in page["data"]] == [pixel["id"]] and page["has_more"]
        assert [
            f["id"] for f in (await call(client, "list_files", {"purpose": "vision"}))["data"]
        ] == [pixel["id"]]
        assert (await call(client, "get_file", {"file_id": text["id"]}))["filename"] == "notes.txt"
        read = await call(client, "get_file_content", {"file_id": text["id"]})
        assert read["content"] == "line one\nline two\n"
        image = await client.call_tool("get_file_content", {"file_id": pixel["id"]})
        kinds = [part.type for part in image.content]
        assert kinds[0] == "text" and kinds[-1] == "image"
        assert "only over stdio" in await call_error(client, "upload_file", {"path": "/etc/hosts"})
        gone = await call(client, "delete_file", {"file_id": text["id"]})
        assert gone == {"id": text["id"], "object": "file", "deleted": True}
        await call_error(client, "get_file_content", {"file_id": text["id"]})


async def _indexed(client: Client, store_id: str) -> dict:
    for _ in range(600):
        store = await call(client, "get_vector_store", {"vector_store_id": store_id})
        if store["status"] != "in_progress":
            return store
        await anyio.sleep(0.1)
    raise AssertionError(f"vector store {store_id} still indexing")


async def test_vector_store_tools(server: ServerProcess) -> None:
    """Every vector store tool through a real MCP client; search returns chunks with the
    file's name and a score."""
    async with await _session(server) as client:
        cats = await call(
            client,
            "upload_file",
            {"content": "Cats purr and chase mice at night.", "filename": "cats.txt"},
        )
        bread = await call(
            client,
            "upload_file",
            {"content": "Knead the dough, let it rise, bake the bread.", "filename": "bread.md"},
        )
        store = await call(client, "create_vector_store", {"name": "kb", "file_ids": [cats["id"]]})
        ids = {"vector_store_id": store["id"]}
        batch = await call(
            client,
            "add_vector_store_files",
            {**ids, "file_ids": [bread["id"]], "attributes": {"kind": "recipe"}},
        )
        assert batch["object"] == "vector_store.files_batch"
        assert (await _indexed(client, store["id"]))["file_counts"]["completed"] == 2
        listed = await call(client, "list_vector_store_files", {**ids, "filter": "completed"})
        assert {f["id"] for f in listed["data"]} == {cats["id"], bread["id"]}

        result = await client.call_tool(
            "search_vector_store", {**ids, "query": "felines hunting", "max_num_results": 1}
        )
        assert not result.is_error
        found = result.structured_content["results"]
        assert found[0]["filename"] == "cats.txt" and 0 < found[0]["score"] <= 1
        assert "purr" in found[0]["text"] and "cats.txt" in result.content[0].text
        filtered = await call(
            client,
            "search_vector_store",
            {**ids, "query": "bread", "filters": {"type": "eq", "key": "kind", "value": "recipe"}},
        )
        assert [r["file_id"] for r in filtered["results"]] == [bread["id"]]

        renamed = await call(client, "modify_vector_store", {**ids, "name": "renamed"})
        assert renamed["name"] == "renamed"
        page = await call(client, "list_vector_stores", {"limit": 1})
        assert page["data"][0]["id"] == store["id"]
        gone = await call(client, "delete_vector_store_file", {**ids, "file_id": cats["id"]})
        assert gone["deleted"] is True
        assert (await call(client, "delete_vector_store", ids))["deleted"] is True
        text = await call_error(client, "get_vector_store", ids)
        assert "No vector store found" in text

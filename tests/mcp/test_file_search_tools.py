"""file_search through the MCP run tools (issue 13): a real stdio MCP client uploads a file,
indexes it, and runs an assistant whose answer cites it - the result names the cited file,
and progress notifications tell of the search."""

from __future__ import annotations

from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

from tests.mcp.servers import COMMAND, server_env
from tests.mcp.workflow import call
from tests.support.scripted_provider import CiteSources, ScriptedProvider, SearchFiles

HANDBOOK = "Holidays: every employee gets 27 days of paid leave a year.\n"


async def test_a_run_answers_from_a_file_and_names_it(
    tmp_path: Path, model_provider: ScriptedProvider
) -> None:
    (tmp_path / "handbook.txt").write_text(HANDBOOK)
    env = server_env(tmp_path / "data", model_provider.base_url, MCP_UPLOAD_DIRS=str(tmp_path))
    model_provider.script(SearchFiles("paid leave days"), CiteSources("27 days {first}."))
    progress: list[str] = []
    found = anyio.Event()

    async def on_progress(amount: float, total: float | None, text: str | None) -> None:
        progress.append(text or "")
        if (text or "").startswith("file search:"):
            found.set()

    with anyio.fail_after(120):
        async with Client(StdioServerParameters(command=COMMAND, env=env)) as client:
            uploaded = await call(client, "upload_file", {"path": str(tmp_path / "handbook.txt")})
            store = await call(client, "create_vector_store", {"file_ids": [uploaded["id"]]})
            while store["status"] == "in_progress":
                await anyio.sleep(0.1)
                store = await call(client, "get_vector_store", {"vector_store_id": store["id"]})
            assert store["status"] == "completed"
            assistant = await call(
                client,
                "create_assistant",
                {
                    "model": "m",
                    "tools": [{"type": "file_search"}],
                    "tool_resources": {"file_search": {"vector_store_ids": [store["id"]]}},
                },
            )
            arguments = {
                "assistant_id": assistant["id"],
                "thread": {"messages": [{"role": "user", "content": "How many holidays?"}]},
            }
            result = await client.call_tool(
                "create_thread_and_run", arguments, progress_callback=on_progress
            )
    assert not result.is_error
    data = result.structured_content
    assert data is not None and data["run"]["status"] == "completed"
    (citation,) = data["citations"]
    assert citation == {
        "marker": "【0:0†handbook.txt】",
        "file_id": uploaded["id"],
        "filename": "handbook.txt",
    }
    text = result.content[0].text  # type: ignore[union-attr]
    assert "Reply: 27 days 【0:0†handbook.txt】." in text
    assert f"Sources: 【0:0†handbook.txt】 = handbook.txt ({uploaded['id']})" in text
    with anyio.fail_after(60):  # progress callbacks run as tasks: the last may be due
        await found.wait()
    assert "searching the files…" in progress
    assert "file search: 1 results from 1 files" in progress

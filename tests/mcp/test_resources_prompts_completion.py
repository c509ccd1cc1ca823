"""Resources, prompts and completion (mcp/resources.py, prompts.py, completion.py) through the
official SDK client: in-process against the embedded engine, and over streamable HTTP in
multi-user mode for tenant isolation (the key comes from each request's header)."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.shared.exceptions import MCPError

from openai_assistant_mcp.mcp.app import ToolServer
from openai_assistant_mcp.settings import Settings
from tests.mcp.fixtures import StartServer
from tests.mcp.servers import (
    ServerProcess,
    server_env,
    stdio_client,
    streamable_client,
)
from tests.mcp.workflow import call

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Client]:
    """The server in-process with its backend running; a client connected to it."""
    tools = ToolServer(settings)
    async with anyio.create_task_group() as group:
        group.start_soon(tools.backend.run)
        tools.backend.want()
        # Opened before the test ends: a close() while the engine is still starting is lost
        # (backend.py enters READY after it), and the backend would never end.
        with anyio.fail_after(120):
            assert await tools.backend.ready()
        async with Client(tools.lowlevel_server()) as client:
            yield client
        tools.backend.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The default configuration (single-user: OPENAI_API_KEY is the tenant)."""
    return Settings(data_dir=tmp_path, provider_api_key="sk-single-" + secrets.token_hex(6))


def _text(result: types.ReadResourceResult, index: int = 0) -> str:
    contents = result.contents[index]
    assert isinstance(contents, types.TextResourceContents)
    return contents.text


async def test_capabilities_templates_and_prompts_are_announced(settings: Settings) -> None:
    async with serving(settings) as client:
        capabilities = client.server_capabilities
        assert capabilities is not None
        assert capabilities.resources is not None and capabilities.prompts is not None
        assert capabilities.completions is not None
        templates = await client.list_resource_templates()
        assert [t.uri_template for t in templates.resource_templates] == [
            "assistant://{assistant_id}",
            "thread://{thread_id}/messages",
            "openai-file://{file_id}",
            "vector-store://{vector_store_id}/files",
        ]
        prompts = await client.list_prompts()
        assert [p.name for p in prompts.prompts] == [
            "ask-assistant",
            "create-assistant-from-description",
            "summarise-thread",
        ]


async def test_read_only_mode_keeps_resources_and_drops_the_prompts_that_write(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path, read_only=True)
    async with serving(settings) as client:
        prompts = await client.list_prompts()
        assert [p.name for p in prompts.prompts] == ["summarise-thread"]
        templates = await client.list_resource_templates()
        assert len(templates.resource_templates) == 4


async def test_toolsets_decide_which_templates_are_offered(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, toolsets=("assistants",))
    async with serving(settings) as client:
        templates = await client.list_resource_templates()
        assert [t.uri_template for t in templates.resource_templates] == [
            "assistant://{assistant_id}"
        ]
        prompts = (await client.list_prompts()).prompts
        assert [p.name for p in prompts] == ["create-assistant-from-description"]


async def test_assistants_and_vector_stores_are_listed_and_read(settings: Settings) -> None:
    async with serving(settings) as client:
        made = await call(
            client,
            "create_assistant",
            {"model": "m-1", "name": "Helper", "instructions": "Be brief."},
        )
        store = await call(client, "create_vector_store", {"name": "docs"})
        listed = await client.list_resources()
        uris = [r.uri for r in listed.resources]
        assert f"assistant://{made['id']}" in uris
        if f"vector-store://{store['id']}/files" not in uris:  # on the next page
            assert listed.next_cursor == "vector-store:"
            listed = await client.list_resources(cursor=listed.next_cursor)
            uris = [r.uri for r in listed.resources]
        assert f"vector-store://{store['id']}/files" in uris

        read = await client.read_resource(f"assistant://{made['id']}")
        assistant = json.loads(_text(read))
        assert (assistant["id"], assistant["instructions"]) == (made["id"], "Be brief.")
        assert read.contents[0].mime_type == "application/json"

        read = await client.read_resource(f"vector-store://{store['id']}/files")
        data = json.loads(_text(read))
        assert data["vector_store"]["name"] == "docs" and data["files"] == []


async def test_resources_list_pages_through_every_assistant(settings: Settings) -> None:
    async with serving(settings) as client:
        made = [
            (await call(client, "create_assistant", {"model": "m", "name": f"a{i}"}))["id"]
            for i in range(55)
        ]
        seen: list[str] = []
        cursor: str | None = None
        while True:
            page = await client.list_resources(cursor=cursor)
            assert len(page.resources) <= 50
            seen += [r.uri.removeprefix("assistant://") for r in page.resources]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == list(reversed(made))  # newest first; no vector stores here


async def test_a_thread_reads_as_markdown_oldest_first(settings: Settings) -> None:
    async with serving(settings) as client:
        thread = await call(
            client, "create_thread", {"messages": [{"role": "user", "content": "What is 2+2?"}]}
        )
        await call(
            client,
            "create_message",
            {"thread_id": thread["id"], "role": "assistant", "content": "It is 4."},
        )
        read = await client.read_resource(f"thread://{thread['id']}/messages")
        text = _text(read)
        assert read.contents[0].mime_type == "text/markdown"
        assert text.startswith(f"# Thread {thread['id']} (2 messages, oldest first)")
        assert text.index("## user") < text.index("What is 2+2?") < text.index("## assistant")
        assert text.index("## assistant") < text.index("It is 4.")


async def test_files_read_as_metadata_then_text_or_blob(settings: Settings) -> None:
    async with serving(settings) as client:
        text_file = await call(
            client, "upload_file", {"content": "# Notes\nhello", "filename": "notes.md"}
        )
        read = await client.read_resource(f"openai-file://{text_file['id']}")
        meta, content = read.contents
        assert isinstance(meta, types.TextResourceContents)
        assert json.loads(meta.text)["filename"] == "notes.md"
        assert isinstance(content, types.TextResourceContents)
        assert (content.text, content.mime_type) == ("# Notes\nhello", "text/markdown")

        image = await call(
            client,
            "upload_file",
            {
                "content": base64.b64encode(PNG).decode(),
                "encoding": "base64",
                "filename": "dot.png",
            },
        )
        _, blob = (await client.read_resource(f"openai-file://{image['id']}")).contents
        assert isinstance(blob, types.BlobResourceContents)
        assert (base64.b64decode(blob.blob), blob.mime_type) == (PNG, "image/png")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("assistant://asst_nope", "Assistants API error 404: No assistant found with id"),
        ("thread://thread_nope/messages", "Assistants API error 404: No thread found"),
        ("openai-file://file-nope", "Assistants API error 404: No such File object"),
        ("vector-store://vs_nope/files", "Assistants API error 404: No vector store found"),
        ("file:///etc/passwd", "Unknown resource URI 'file:///etc/passwd': this server reads"),
    ],
)
async def test_unknown_ids_and_uris_are_one_line_errors(
    settings: Settings, uri: str, message: str
) -> None:
    async with serving(settings) as client:
        with pytest.raises(MCPError) as raised:
            await client.read_resource(uri)
        assert raised.value.code == types.INVALID_PARAMS
        assert raised.value.message.startswith(message), raised.value.message
        assert "\n" not in raised.value.message


async def test_prompts_name_the_tools_and_check_their_arguments(settings: Settings) -> None:
    async with serving(settings) as client:
        got = await client.get_prompt(
            "ask-assistant", {"assistant_id": "asst_abc", "question": 'Say "hi"'}
        )
        text = got.messages[0].content
        assert isinstance(text, types.TextContent)
        assert 'create_thread_and_run with assistant_id="asst_abc"' in text.text
        assert '"content": "Say \\"hi\\""' in text.text
        got = await client.get_prompt("summarise-thread", {"thread_id": "thread_x"})
        assert 'list_messages with thread_id="thread_x"' in str(got.messages[0].content)
        got = await client.get_prompt(
            "create-assistant-from-description", {"description": "A poet"}
        )
        assert "create_assistant" in str(got.messages[0].content)

        for name, arguments, message in [
            ("ask-assistant", {"assistant_id": "asst_abc"}, "Missing argument 'question'"),
            ("ask-assistant", {"assistant_id": "a b", "question": "q"}, "Argument 'assistant_id'"),
            ("summarise-thread", {"thread_id": "t", "x": "1"}, "Unknown argument 'x'"),
            ("no-such-prompt", {}, "Unknown prompt 'no-such-prompt'."),
        ]:
            with pytest.raises(MCPError) as raised:
                await client.get_prompt(name, arguments)
            assert raised.value.message.startswith(message), raised.value.message


async def _complete(client: Client, ref: Any, argument: str, value: str) -> types.Completion:
    return (await client.complete(ref, {"name": argument, "value": value})).completion


async def test_completion_of_ids_by_prefix_and_of_models(settings: Settings) -> None:
    async with serving(settings) as client:
        first = await call(client, "create_assistant", {"model": "model-a", "name": "Zeta"})
        second = await call(client, "create_assistant", {"model": "model-b", "name": "Alpha"})
        file = await call(client, "upload_file", {"content": "x", "filename": "x.txt"})
        store = await call(client, "create_vector_store", {"name": "kb"})
        ask = types.PromptReference(name="ask-assistant")

        everything = await _complete(client, ask, "assistant_id", "")
        assert everything.values == [second["id"], first["id"]]  # most recent first
        by_id = await _complete(client, ask, "assistant_id", first["id"][:-2])
        assert by_id.values == [first["id"]]
        by_name = await _complete(client, ask, "assistant_id", "alp")
        assert by_name.values == [second["id"]]
        assert (await _complete(client, ask, "assistant_id", "asst_none")).values == []

        file_ref = types.ResourceTemplateReference(uri="openai-file://{file_id}")
        assert (await _complete(client, file_ref, "file_id", "file")).values == [file["id"]]
        store_ref = types.ResourceTemplateReference(uri="vector-store://{vector_store_id}/files")
        assert (await _complete(client, store_ref, "vector_store_id", "")).values == [store["id"]]

        create = types.PromptReference(name="create-assistant-from-description")
        models = await _complete(client, create, "model", "model-")
        assert models.values == ["model-b", "model-a"]  # the engine has no /models: the assistants'
        assert (await _complete(client, create, "description", "x")).values == []
        with pytest.raises(MCPError, match="Unknown argument 'nope'"):
            await _complete(client, ask, "nope", "")


# --- multi-user mode over streamable HTTP ---------------------------------------------------------


@pytest.fixture(scope="module")
def multi_user_server(start_server: StartServer) -> ServerProcess:
    return start_server(
        "multi-user-http",
        TRANSPORT="streamable-http",
        MCP_CREDENTIALS_PASSTHROUGH="true",
    )


async def test_another_tenant_cannot_read_list_or_complete_your_objects(
    multi_user_server: ServerProcess,
) -> None:
    url = multi_user_server.url("/mcp")
    alice = {"X-OpenAI-API-Key": "sk-alice-" + secrets.token_hex(8)}
    bob = {"X-OpenAI-API-Key": "sk-bob-" + secrets.token_hex(8)}
    async with streamable_client(url, alice) as client:
        made = await call(client, "create_assistant", {"model": "m", "name": "alice's"})
        read = await client.read_resource(f"assistant://{made['id']}")
        assert json.loads(_text(read))["name"] == "alice's"
    async with streamable_client(url, bob) as client:
        with pytest.raises(MCPError) as raised:
            await client.read_resource(f"assistant://{made['id']}")
        assert (
            raised.value.message
            == f"Assistants API error 404: No assistant found with id '{made['id']}'."
        )
        assert (await client.list_resources()).resources == []
        ask = types.PromptReference(name="ask-assistant")
        assert (await _complete(client, ask, "assistant_id", "")).values == []
    async with streamable_client(url) as client:  # no key: refused, as a tool call is
        with pytest.raises(MCPError, match=r"^No API key: send it in the X-OpenAI-API-Key"):
            await client.read_resource(f"assistant://{made['id']}")


# --- the other transports -----------------------------------------------------------------------


async def _resources_prompts_and_completion(client: Client) -> None:
    """One of each over a real transport: read, list, a prompt, a completion."""
    made = await call(client, "create_assistant", {"model": "model-t", "name": "Wired"})
    read = await client.read_resource(f"assistant://{made['id']}")
    assert json.loads(_text(read))["name"] == "Wired"
    assert f"assistant://{made['id']}" in [r.uri for r in (await client.list_resources()).resources]
    got = await client.get_prompt("ask-assistant", {"assistant_id": made["id"], "question": "Hi"})
    assert made["id"] in got.messages[0].content.text  # type: ignore[union-attr]
    ask = types.PromptReference(name="ask-assistant")
    assert made["id"] in (await _complete(client, ask, "assistant_id", "")).values


async def test_resources_prompts_and_completion_over_stdio(tmp_path: Path) -> None:
    env = server_env(tmp_path / "data", OPENAI_API_KEY="sk-stdio-" + secrets.token_hex(6))
    with anyio.fail_after(120):
        async with stdio_client(env) as client:
            assert client.protocol_version == "2026-07-28"
            await _resources_prompts_and_completion(client)


async def test_resources_prompts_and_completion_over_sse(start_server: StartServer) -> None:
    server = start_server("single-user-sse", TRANSPORT="sse")
    with anyio.fail_after(120):
        # The handshake generation here (stdio above speaks 2026-07-28), as mcpo and older
        # clients open an SSE session.
        transport = sse_client(server.url("/sse"), timeout=120.0, sse_read_timeout=120.0)
        async with Client(transport, mode="legacy") as client:
            assert client.protocol_version != "2026-07-28"
            await _resources_prompts_and_completion(client)

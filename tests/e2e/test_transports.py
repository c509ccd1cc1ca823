"""The whole workflow through real MCP clients on every transport, and in remote mode, with the
scripted Chat Completions server as the model provider."""

from __future__ import annotations

import secrets
from pathlib import Path

import anyio
import openai

from tests.mcp.fixtures import StartServer
from tests.mcp.servers import server_env, sse_client_for, stdio_client, streamable_client
from tests.mcp.workflow import call, run_workflow
from tests.support.scripted_provider import ScriptedProvider


async def test_workflow_over_stdio(tmp_path: Path, model_provider: ScriptedProvider) -> None:
    """Single user: the console script as Claude Desktop starts it, key from OPENAI_API_KEY."""
    key = "sk-stdio-" + secrets.token_hex(8)
    env = server_env(tmp_path, model_provider.base_url, OPENAI_API_KEY=key)
    with (tmp_path / "stderr.log").open("w") as errlog:
        with anyio.fail_after(60):
            async with stdio_client(env, errlog=errlog) as client:
                await run_workflow(client, model_provider, "stdio")
    assert {request.api_key for request in model_provider.requests} == {key}
    assert key not in (tmp_path / "stderr.log").read_text()


async def test_workflow_over_streamable_http(
    start_server: StartServer, model_provider: ScriptedProvider
) -> None:
    server = start_server("single-user-http", TRANSPORT="streamable-http")
    with anyio.fail_after(60):
        async with streamable_client(server.url("/mcp")) as client:
            await run_workflow(client, model_provider, "streamable-http")


async def test_workflow_over_sse_with_the_callers_key(
    start_server: StartServer, model_provider: ScriptedProvider
) -> None:
    """Multi-user SSE: the X-OpenAI-API-Key header is the caller's identity and provider key."""
    server = start_server("multi-user-sse", TRANSPORT="sse", MCP_CREDENTIALS_PASSTHROUGH="true")
    key = "sk-sse-" + secrets.token_hex(8)
    with anyio.fail_after(60):
        async with sse_client_for(server.url("/sse"), {"X-OpenAI-API-Key": key}) as client:
            await run_workflow(client, model_provider, "sse")
    assert {request.api_key for request in model_provider.requests} == {key}
    assert key not in server.log()


async def test_workflow_in_remote_mode(
    tmp_path: Path, start_server: StartServer, model_provider: ScriptedProvider
) -> None:
    """ASSISTANTS_API_URL sends every call to a separately started `openai-assistant-mcp api`."""
    api = start_server("api", "api")
    base_url = api.url("/v1")
    key = "sk-remote-" + secrets.token_hex(8)
    # This MCP server has no engine data of its own: everything it shows lives in the api's.
    env = server_env(tmp_path / "unused", ASSISTANTS_API_URL=base_url, OPENAI_API_KEY=key)
    with anyio.fail_after(60):
        async with stdio_client(env) as client:
            made = await run_workflow(client, model_provider, "remote")
            page = await call(client, "list_assistants", {})
    assert made["assistant"]["id"] in {a["id"] for a in page["data"]}
    assert {request.api_key for request in model_provider.requests} == {key}
    assert not (tmp_path / "unused").exists()
    # The objects are in the remote API, under the caller's key.
    async with openai.AsyncOpenAI(base_url=base_url, api_key=key) as direct:
        run = await direct.beta.threads.runs.retrieve(
            made["run"]["id"], thread_id=made["thread"]["id"]
        )
    assert run.status == "completed"
